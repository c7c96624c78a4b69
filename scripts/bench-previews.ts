// `tsx scripts/bench-previews.ts` (not part of npm test): what the conversations listing costs,
// GET /functions/v1/messages/conversations?limit=50 with its previews, measured in process
// (the real app, auth, tenant gate, RLS and decryption; no HTTP socket) on a throw-away
// PostgreSQL (PGlite when no server binaries are usable) with the real migrations.
//
// Seeding goes through the real write path (signed WhatsApp deliveries to webhook-whatsapp), so
// the stored previews are whatever the code of the day stores (clear or sealed). The report:
// ms per page of 50 (median, p95) walking all pages in turn, sequentially, and pages/s with
// BENCH_PREVIEWS_CONCURRENCY requests in flight.
//
//   tsx scripts/bench-previews.ts     BENCH_PREVIEWS_CONVERSATIONS=1000 BENCH_PREVIEWS_MESSAGES=4
//                                     BENCH_PREVIEWS_RUNS=400 BENCH_PREVIEWS_CONCURRENCY=4
import postgres from "postgres";
import { loadConfig } from "../shared/config/index.ts";
import { createLogger } from "../shared/log/index.ts";
import { sealAccessToken } from "../shared/messaging/index.ts";
import { createDeps } from "../shared/runtime/deps.ts";
import { createDistributor } from "../shared/tenancy/index.ts";
import { createApp as createMessages } from "../functions/messages/app.ts";
import { createApp as createWebhook } from "../functions/webhook-whatsapp/app.ts";
import { messagesPayload, msg, sign, ts } from "../tests/support/meta.ts";
import { prepareDatabase } from "./db/migrate.ts";
import { exitOnSignals, startTestDatabase } from "./db/server.ts";
import { ensureUser, signDevToken } from "./lib/dev-tokens.ts";

const CONVERSATIONS = Number(process.env.BENCH_PREVIEWS_CONVERSATIONS ?? 1000);
const MESSAGES = Number(process.env.BENCH_PREVIEWS_MESSAGES ?? 4);
const RUNS = Number(process.env.BENCH_PREVIEWS_RUNS ?? 400);
const CONCURRENCY = Number(process.env.BENCH_PREVIEWS_CONCURRENCY ?? 4);
const PAGE = 50;
const JWT_SECRET = "bench-jwt-secret-with-at-least-32-characters!!";
const MASTER_KEY = "8f1c0d5e2a4b6c7d9e0f112233445566778899aabbccddeeff00112233445566";
const APP_SECRET = "bench-whatsapp-app-secret";

const TEXTS = [
  (i: number) => `Hi, this is Maria Gonzalez from Leeds, order ${i}: mail me at buyer${i}@example.com`,
  (i: number) => `Good morning! Can you deliver 12 boxes of mango juice and 4 crates of water tomorrow? (ref ${i})`,
  (i: number) => `Thanks, the last delivery arrived fine. Same again next week please, batch ${i}.`,
];

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

async function main() {
  exitOnSignals();
  const db = await startTestDatabase();
  try {
    await prepareDatabase(db.url, { bootstrap: db.kind !== "external" });
    const config = loadConfig({
      DATABASE_URL: db.url, SUPABASE_JWT_SECRET: JWT_SECRET, SECRET_MASTER_KEY: MASTER_KEY, LOG_LEVEL: "silent",
      DB_POOL_MAX: String(Math.max(2, CONCURRENCY)), WHATSAPP_VERIFY_TOKEN: "bench-verify-token", WHATSAPP_APP_SECRET: APP_SECRET,
      CORS_ALLOWED_ORIGINS: "https://app.example.com",
    });
    const deps = await createDeps(config, { logger: createLogger("silent") });
    const sql = postgres(db.url, { max: 2, onnotice: () => {} });

    const ownerId = crypto.randomUUID();
    await ensureUser(sql, ownerId, "owner@bench.test");
    const d = await deps.db.withService((tx) => createDistributor(tx, deps.keyring, { name: "Bench Previews", ownerId }));
    const keys = await deps.tenantKeys.get(d.id);
    const accountId = crypto.randomUUID();
    const phoneId = "1999000000000001";
    const tok = await sealAccessToken(keys, accountId, "EAAG-bench");
    await sql`insert into public.whatsapp_accounts (id, distributor_id, phone_number_id, display_phone_number, access_token_encrypted, access_token_iv, key_version)
              values (${accountId}, ${d.id}, ${phoneId}, '+1 555 000 1111', ${tok.encryptedValue}, ${tok.iv}, ${tok.keyVersion})`;

    // Seed: CONVERSATIONS senders × MESSAGES messages, 100 messages per signed delivery.
    const webhook = createWebhook(deps);
    const t0 = performance.now();
    const all = [];
    const start = Date.now() - CONVERSATIONS * MESSAGES * 1000;
    for (let m = 0; m < MESSAGES; m++) {
      for (let c = 0; c < CONVERSATIONS; c++) {
        const n = m * CONVERSATIONS + c;
        all.push(msg.text({ from: `9${String(c).padStart(11, "0")}`, body: TEXTS[n % TEXTS.length](n), id: `wamid.bench.${n}`, timestamp: ts(new Date(start + n * 1000)) }));
      }
    }
    for (let i = 0; i < all.length; i += 100) {
      const body = JSON.stringify(messagesPayload(phoneId, all.slice(i, i + 100)));
      const r = await webhook.request("http://x/functions/v1/webhook-whatsapp", {
        method: "POST", headers: { "content-type": "application/json", "x-hub-signature-256": sign(body, APP_SECRET) }, body,
      });
      if (r.status !== 200) throw new Error(`seed delivery ${i}: ${r.status} ${await r.text()}`);
    }
    const [{ n: stored }] = await sql<{ n: number }[]>`select count(*)::int as n from public.messages where distributor_id = ${d.id}`;
    console.log(`seeded ${stored} messages in ${CONVERSATIONS} conversations in ${((performance.now() - t0) / 1000).toFixed(1)} s (${db.kind})`);
    await sql`analyze`;

    const token = await signDevToken(JWT_SECRET, { sub: ownerId });
    const app = createMessages(deps);
    const headers = { authorization: `Bearer ${token}`, "x-distributor-id": d.id };
    // Page cursors, walked once (also a check that every page answers with previews).
    const cursors: (string | null)[] = [null];
    for (;;) {
      const cur = cursors[cursors.length - 1];
      const r = await app.request(`http://x/functions/v1/messages/conversations?limit=${PAGE}${cur ? `&cursor=${cur}` : ""}`, { headers });
      const body = await r.json() as { conversations: { preview: string | null }[]; next_cursor: string | null };
      if (r.status !== 200) throw new Error(`listing: ${r.status} ${JSON.stringify(body)}`);
      if (body.conversations.some((c) => !c.preview)) throw new Error("a conversation without its preview");
      if (!body.next_cursor) break;
      cursors.push(body.next_cursor);
    }
    const one = async (i: number) => {
      const cur = cursors[i % cursors.length];
      const s = performance.now();
      const r = await app.request(`http://x/functions/v1/messages/conversations?limit=${PAGE}${cur ? `&cursor=${cur}` : ""}`, { headers });
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`listing: ${r.status}`);
      return performance.now() - s;
    };
    for (let i = 0; i < 30; i++) await one(i); // warm-up
    const seq: number[] = [];
    const s0 = performance.now();
    for (let i = 0; i < RUNS; i++) seq.push(await one(i));
    const seqSeconds = (performance.now() - s0) / 1000;
    let next = 0;
    const c0 = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < RUNS) await one(next++);
    }));
    const concSeconds = (performance.now() - c0) / 1000;
    // The SQL alone (as the table owner, first page): the plan must stop after 51 lookups.
    const [plan] = await sql.unsafe(`explain (analyze, format json)
      select c.id, lm.id as latest_id, lm.preview
      from public.conversations c
      left join lateral (select m.id, m.preview from public.messages m
                         where m.conversation_id = c.id and m.deleted_at is null
                         order by coalesce(m.external_timestamp, m.created_at) desc, m.id desc limit 1) lm on true
      where c.distributor_id = '${d.id}'
      order by c.last_message_at desc nulls last, c.id desc limit ${PAGE + 1}`).catch(() => [null]);
    const p = (plan as { "QUERY PLAN"?: [{ "Execution Time": number }] } | null)?.["QUERY PLAN"]?.[0];
    if (p) console.log(`listing SQL with the latest-message lateral (owner, page 1): ${p["Execution Time"].toFixed(2)} ms`);
    console.log(`GET /conversations?limit=${PAGE} over ${cursors.length} pages, ${RUNS} requests:`);
    console.log(`  sequential: median ${pct(seq, 0.5).toFixed(2)} ms, p95 ${pct(seq, 0.95).toFixed(2)} ms, ${(RUNS / seqSeconds).toFixed(0)} pages/s`);
    console.log(`  ${CONCURRENCY} in flight: ${(RUNS / concSeconds).toFixed(0)} pages/s`);
    await sql.end();
    await deps.db.end();
  } finally {
    await db.stop();
  }
}

await main();
