// Outbound webhooks and security monitoring, measured on a throw-away PostgreSQL:
//
// 1. Deliveries per second with ONE worker (shared/webhooks/worker.ts: fan-out, claim, sign,
//    POST, record) to an instant receiver on 127.0.0.1 (the loopback development flag on).
// 2. The monitoring middleware's cost: a protected route (distributors GET, a user JWT and a
//    database round trip) served in-process with monitoring on vs off, in alternating rounds of
//    the same run, each request from one of 200 client addresses. Target: on ≥ 0.85 × off.
//
//   npx tsx scripts/bench-webhooks.ts [--events 1000] [--seconds 5] [--connections 16]
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { createApp as distributorsApp } from "../functions/distributors/app.ts";
import { loadConfig } from "../shared/config/index.ts";
import { createDeps } from "../shared/runtime/deps.ts";
import { createDistributor } from "../shared/tenancy/index.ts";
import { sealFor } from "../shared/tenancy/keys.ts";
import { newSigningSecret } from "../shared/webhooks/signing.ts";
import { runPass } from "../shared/webhooks/worker.ts";
import { prepareDatabase } from "./db/migrate.ts";
import { startPglite, startRealPostgres } from "./db/server.ts";
import { ensureUser, signDevToken } from "./lib/dev-tokens.ts";

const { values: args } = parseArgs({
  options: { events: { type: "string", default: "1000" }, seconds: { type: "string", default: "5" }, connections: { type: "string", default: "16" } },
});
const EVENTS = Number(args.events);
const SECONDS = Number(args.seconds);
const CONNECTIONS = Number(args.connections);

const db = (await startRealPostgres()) ?? (console.warn("[bench] no real PostgreSQL: using PGlite (figures not comparable)"), await startPglite());
try {
  await prepareDatabase(db.url);
  const jwtSecret = randomBytes(32).toString("base64url");
  const env = (monitoring: boolean) => ({
    DATABASE_URL: db.url, SUPABASE_JWT_SECRET: jwtSecret, SECRET_MASTER_KEY: "ab".repeat(32), LOG_LEVEL: "silent",
    WEBHOOKS_ALLOW_LOOPBACK: "true", ENVIRONMENT: "development", SECURITY_IP_LIMIT: "1000000",
    SECURITY_MONITORING: String(monitoring),
  });
  const deps = await createDeps(loadConfig(env(true)));
  const depsOff = await createDeps(loadConfig(env(false)));
  const sql = postgres(db.url, { max: 2, onnotice: () => {} });

  // ------------------------------------------------------------------ 1. deliveries per second
  let received = 0;
  const rx = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      received++;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((ok) => rx.listen(0, "127.0.0.1", ok));
  const port = (rx.address() as AddressInfo).port;
  const ownerId = crypto.randomUUID();
  await ensureUser(sql, ownerId, "bench-owner@example.test");
  const d = await deps.db.withService((tx) => createDistributor(tx, deps.keyring, { name: "Bench", ownerId }));
  const keys = await deps.tenantKeys.get(d.id);
  const endpointId = crypto.randomUUID();
  const sealed = await sealFor(keys, "webhook_endpoints", endpointId, newSigningSecret());
  await sql`insert into public.webhook_endpoints (id, distributor_id, url, events, secret_encrypted, secret_iv, secret_key_version)
            values (${endpointId}, ${d.id}, ${`http://127.0.0.1:${port}/hook`}, ${["order.created"]}, ${sealed.encryptedValue}, ${sealed.iv}, ${sealed.keyVersion})`;
  await sql`insert into public.event_outbox (distributor_id, event_type, payload)
            select ${d.id}, 'order.created', jsonb_build_object('order_id', gen_random_uuid()) from generate_series(1, ${EVENTS})`;
  const worker = {
    db: deps.db, tenantKeys: deps.tenantKeys, logger: deps.logger, now: () => new Date(),
    resolve: async () => ["127.0.0.1"], policy: { allowLoopback: true }, batchSize: 100, concurrency: 16,
  };
  const t0 = performance.now();
  let passes = 0;
  while (received < EVENTS && passes < EVENTS) {
    await runPass(worker);
    passes++;
  }
  const secs = (performance.now() - t0) / 1000;
  const [{ n }] = await sql`select count(*)::int as n from public.webhook_deliveries where endpoint_id = ${endpointId} and status = 'delivered'`;
  console.log(`deliveries: ${n}/${EVENTS} delivered in ${secs.toFixed(2)} s by one worker (${passes} passes, batch 100, 16 in flight): ${(n / secs).toFixed(0)} deliveries/s`);
  rx.close();

  // ------------------------------------------------------------------ 2. monitoring on vs off
  const token = await signDevToken(jwtSecret, { sub: ownerId });
  const apps = { on: distributorsApp(deps), off: distributorsApp(depsOff) };
  const ips = Array.from({ length: 200 }, (_, i) => `198.51.100.${i + 1}`);
  async function round(which: "on" | "off", seconds: number): Promise<number> {
    const app = apps[which];
    const end = performance.now() + seconds * 1000;
    let done = 0;
    await Promise.all(Array.from({ length: CONNECTIONS }, async (_, c) => {
      let i = c * 13; // connections spread over the addresses (in lockstep, neighbours would share one)
      while (performance.now() < end) {
        const res = await app.request("http://localhost/functions/v1/distributors", {
          headers: { authorization: `Bearer ${token}`, "x-forwarded-for": ips[i++ % ips.length] },
        });
        if (res.status !== 200) throw new Error(`status ${res.status}`);
        await res.arrayBuffer();
        done++;
      }
    }));
    return done / seconds;
  }
  await round("on", 1); // warm-up
  await round("off", 1);
  const rps = { on: [] as number[], off: [] as number[] };
  for (let r = 0; r < 4; r++) {
    for (const w of (r % 2 ? ["on", "off"] : ["off", "on"]) as ("on" | "off")[]) rps[w].push(await round(w, SECONDS / 2));
  }
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  const ratio = mean(rps.on) / mean(rps.off);
  await deps.monitor.flush();
  const [{ counted }] = await sql`select coalesce(sum(hits), 0)::int as counted from private.security_counters where key like 'ip:198.51.100.%'`;
  console.log(`monitoring: ${counted} requests counted in private.security_counters during the "on" rounds`);
  console.log(`monitoring: off ${mean(rps.off).toFixed(0)} req/s, on ${mean(rps.on).toFixed(0)} req/s (${CONNECTIONS} concurrent, in-process, GET /distributors): ratio ${ratio.toFixed(3)} (target ≥ 0.85) ${ratio >= 0.85 ? "OK" : "BELOW TARGET"}`);
  await sql.end();
  await deps.db.end();
  await depsOff.db.end();
} finally {
  await db.stop();
}
