// `npm start`'s configuration: the embedded PGlite database behind its socket server, one pooled
// connection (PGlite is one session), every function under Deno. A request that needs a
// distributor's keys inside its transaction must not wait for a second connection.
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import postgres from "postgres";
import { prepareDatabase } from "../scripts/db/migrate.ts";
import { freePort, startPglite, type DatabaseServer } from "../scripts/db/server.ts";
import { startDenoServer, waitForHttp } from "../scripts/lib/deno.ts";
import { ensureUser, signDevToken } from "../scripts/lib/dev-tokens.ts";
import { TEST_JWT_SECRET, testEnv } from "./support/harness.ts";
import { messagesPayload, msg, signedHeaders } from "./support/meta.ts";

let pg: DatabaseServer;
let server: ChildProcess;
let base: string;
let dir: string;
const SECRET = "whatsapp-app-secret-for-tests";

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pglite-dev-"));
  pg = await startPglite(join(dir, "db"));
  await prepareDatabase(pg.url);
  const port = await freePort();
  base = `http://127.0.0.1:${port}/functions/v1`;
  server = startDenoServer({ ...(process.env as Record<string, string>), ...testEnv(), DATABASE_URL: pg.url, DB_POOL_MAX: "1", PORT: String(port) }, "pipe");
  await waitForHttp(`${base}/`, 60_000, server);
}, 120_000);

afterAll(async () => {
  server?.kill("SIGTERM");
  await pg?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("local development on PGlite (npm start)", () => {
  it("creates a distributor, connects WhatsApp, ingests a webhook and lists it back", async () => {
    const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
    const userId = crypto.randomUUID();
    await ensureUser(sql, userId);
    await sql.end();
    const token = await signDevToken(TEST_JWT_SECRET, { sub: userId, aal: "aal2" });
    const h = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const call = (path: string, init: RequestInit = {}) => fetch(`${base}/${path}`, { ...init, signal: AbortSignal.timeout(15_000) });

    const created = await call("distributors", { method: "POST", headers: h, body: JSON.stringify({ name: "Dev Co" }) });
    expect(created.status).toBe(201);
    const { id } = await created.json();
    const connected = await call(`distributors/${id}/whatsapp`, {
      method: "POST", headers: h, body: JSON.stringify({ phone_number_id: "9876543210", display_phone_number: "+1 555 0199", access_token: "EAAG-dev" }),
    });
    expect(connected.status).toBe(201);

    const body = JSON.stringify(messagesPayload("9876543210", [msg.text({ from: "15550001111", body: "hi, I'm at dev@example.com" })]));
    const delivered = await call("webhook-whatsapp", { method: "POST", headers: signedHeaders(body, SECRET), body });
    expect(delivered.status).toBe(200);

    const th = { ...h, "x-distributor-id": id };
    const list = await call("messages/conversations", { headers: th });
    expect(list.status).toBe(200);
    const { conversations } = await list.json();
    expect(conversations).toHaveLength(1);
    expect(conversations[0].preview).toBe("hi, I'm at [EMAIL_1]");
    const msgs = await call(`messages/conversations/${conversations[0].id}/messages`, { headers: th });
    expect((await msgs.json()).messages[0].content).toBe("hi, I'm at dev@example.com");

    const saved = await call("manage-user-secrets?action=save", { method: "POST", headers: h, body: JSON.stringify({ serviceName: "openai_api_key_encrypted", value: "sk-dev" }) });
    expect(saved.status).toBe(200);
    const got = await call("manage-user-secrets?action=get&serviceName=openai_api_key_encrypted", { headers: h });
    expect(await got.json()).toEqual({ value: "sk-dev" });
  }, 90_000);
});
