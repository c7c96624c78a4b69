// A real PostgreSQL of its own, stopped in the middle of a webhook delivery: the delivery
// answers 503 (Retry-After) promptly with nothing stored, and Meta's redelivery after the
// restart stores it once. (Loops of requests through stops and freezes: tests/db-faults.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import postgres from "postgres";
import { createApp } from "../functions/webhook-whatsapp/app.ts";
import { prepareDatabase } from "../scripts/db/migrate.ts";
import { startRealPostgres, startTestDatabase, type DatabaseServer } from "../scripts/db/server.ts";
import type { Deps } from "../shared/runtime/deps.ts";
import { createDistributor } from "../shared/tenancy/index.ts";
import { ensureUser } from "../scripts/lib/dev-tokens.ts";
import { TEST_WHATSAPP_APP_SECRET, testDeps } from "./support/harness.ts";
import { connectWhatsapp } from "./support/tenancy.ts";
import { messagesPayload, msg, phoneNumberId, signedHeaders, waId } from "./support/meta.ts";

let server: DatabaseServer;
let deps: Deps;
let sql: postgres.Sql;

beforeAll(async () => {
  // Needs a server it may stop: its own throw-away cluster (PGlite cannot be stopped mid-flight).
  server = (await startRealPostgres()) ?? (await startTestDatabase());
  await prepareDatabase(server.url);
  deps = await testDeps({ DATABASE_URL: server.url, DB_STATEMENT_TIMEOUT_MS: "5000", REQUEST_DEADLINE_MS: "3000" });
  sql = postgres(server.url, { max: 2, onnotice: () => {} });
}, 60_000);
afterAll(async () => {
  await sql?.end({ timeout: 1 }).catch(() => {});
  await deps?.db.end().catch(() => {});
  await server?.stop();
});

describe("webhook-whatsapp when the database stops mid-request", () => {
  it("answers 503 with Retry-After, stores nothing, and a redelivery after the restart stores everything once", async () => {
    expect(server.pause, "this test needs a real PostgreSQL").toBeTypeOf("function");
    const ownerId = crypto.randomUUID();
    await ensureUser(sql, ownerId);
    const d = await deps.db.withService((tx) => createDistributor(tx, deps.keyring, { name: "Outage Co", ownerId }));
    const phoneId = phoneNumberId();
    await connectWhatsapp(deps, sql, d.id, phoneId);
    const from = waId();
    const body = JSON.stringify(messagesPayload(phoneId, Array.from({ length: 20 }, (_, i) => msg.text({ from, body: `order ${i}` }))));
    const app = createApp(deps);
    const deliver = () => app.request("http://x/functions/v1/webhook-whatsapp", { method: "POST", headers: signedHeaders(body, TEST_WHATSAPP_APP_SECRET), body });
    await deliver(); // warm the key and account caches on a healthy database…
    await sql`delete from public.messages where distributor_id = ${d.id}`; // …then start from nothing
    await sql`delete from public.customers where distributor_id = ${d.id}`;
    await sql`delete from public.event_outbox where distributor_id = ${d.id}`;

    // Make the delivery's transaction slow, so the stop lands inside it.
    await sql`create or replace function public.slow_outbox() returns trigger language plpgsql as $$
              begin perform pg_sleep(1.5); return new; end $$`;
    await sql`create trigger slow_outbox before insert on public.event_outbox for each statement execute function public.slow_outbox()`;
    const started = performance.now();
    const inFlight = deliver();
    await new Promise((r) => setTimeout(r, 500));
    server.pause!();
    const res = await inFlight;
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(await res.json()).toMatchObject({ error: "Service unavailable", requestId: expect.any(String) });
    expect(performance.now() - started).toBeLessThan(3000 + 1000); // within the deadline + 1 s

    server.resume!();
    await sql`drop trigger slow_outbox on public.event_outbox`.catch(async () => {
      await new Promise((r) => setTimeout(r, 500)); // the old connections died with the server
      await sql`drop trigger slow_outbox on public.event_outbox`;
    });
    const count = async () => {
      const [r] = await sql`select (select count(*) from public.messages where distributor_id = ${d.id})::int as m,
                                   (select count(*) from public.customers where distributor_id = ${d.id})::int as c,
                                   (select count(*) from public.event_outbox where distributor_id = ${d.id})::int as o`;
      return r;
    };
    expect(await count()).toEqual({ m: 0, c: 0, o: 0 });

    // Meta redelivers (the pool reconnects by itself); twice, as it may.
    let ok = 0;
    for (let attempt = 0; attempt < 10 && ok < 2; attempt++) {
      const r = await deliver();
      if (r.status === 200) ok++;
      else await new Promise((res) => setTimeout(res, 300));
    }
    expect(ok).toBe(2);
    expect(await count()).toEqual({ m: 20, c: 1, o: 20 });
  }, 60_000);
});
