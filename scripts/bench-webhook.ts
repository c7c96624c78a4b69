// WhatsApp ingestion throughput: signed Meta payloads of 100 new text messages each (half of
// them with PII), posted to webhook-whatsapp from a second process, in messages/s, beside the
// floor measured in the same run: a bare multi-row insert of the same number of rows into a
// scratch table. Afterwards every message must be stored exactly once.
//
//   runWebhookBench({ baseUrl, databaseUrl, appSecret, masterKeyHex })  — from scripts/bench.ts
//   tsx scripts/bench-webhook.ts                                         — on its own (real PostgreSQL + Deno server)
//   tsx scripts/bench-webhook.ts --load '<json>'                         — the load process (internal)
//
// BENCH_WEBHOOK_PAYLOADS (default 400) and BENCH_WEBHOOK_CONCURRENCY (default 10) tune the run.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { pathToFileURL } from "node:url";
import postgres from "postgres";
import { createKeyring } from "../shared/crypto/index.ts";
import { sealAccessToken } from "../shared/messaging/index.ts";
import { createDistributor, DistributorKeyCache } from "../shared/tenancy/index.ts";
import { messagesPayload, msg, sign, ts } from "../tests/support/meta.ts";
import { root } from "./lib/deno.ts";
import { startBenchStack } from "./lib/bench-stack.ts";
import { ensureUser } from "./lib/dev-tokens.ts";

export const MESSAGES_PER_PAYLOAD = 100;
const SENDERS_PER_PAYLOAD = 10;
const TARGET = 5_000;

export interface WebhookBenchOptions {
  /** http://host:port (the functions are under /functions/v1). */
  baseUrl: string;
  databaseUrl: string;
  /** One of the server's WHATSAPP_APP_SECRET values. */
  appSecret: string;
  /** The server's SECRET_MASTER_KEY: the bench distributor's keys are wrapped with it. */
  masterKeyHex: string;
  payloads?: number;
  concurrency?: number;
  warmupPayloads?: number;
}

interface LoadSpec {
  url: string;
  appSecret: string;
  phoneNumberId: string;
  runId: string;
  payloads: number;
  warmup: number;
  concurrency: number;
}

interface LoadResult {
  sent: number;
  messages: number;
  ok: number;
  failed: number;
  seconds: number;
  p50: number;
  p99: number;
  bytesPerPayload: number;
}

// ---- the load process -------------------------------------------------------------------

const PII_TEXTS = [
  (i: number) => `Hi, this is for order ${i}: email me at buyer${i}@example.com or call +1 415 555 ${String(1000 + (i % 9000)).padStart(4, "0")}`,
  (i: number) => `Please send the invoice to card holder, card 4111 1111 1111 1111, ref ${i}`,
];
const PLAIN_TEXTS = [
  (i: number) => `Good morning! Can you deliver 12 boxes of mango juice and 4 crates of water tomorrow? (ref ${i})`,
  (i: number) => `Thanks, the last delivery arrived fine. Same again next week please, batch ${i}.`,
];

function buildPayloads(spec: LoadSpec, count: number, offset: number): string[] {
  const out: string[] = [];
  const now = ts();
  for (let p = 0; p < count; p++) {
    const senders = Array.from({ length: SENDERS_PER_PAYLOAD }, (_, s) => `9${String((offset + p) * SENDERS_PER_PAYLOAD + s).padStart(11, "0")}`);
    const messages = Array.from({ length: MESSAGES_PER_PAYLOAD }, (_, i) => {
      const n = (offset + p) * MESSAGES_PER_PAYLOAD + i;
      const body = i % 2 === 0 ? PII_TEXTS[(i >> 1) % 2](n) : PLAIN_TEXTS[(i >> 1) % 2](n);
      return msg.text({ from: senders[i % SENDERS_PER_PAYLOAD], body, id: `wamid.bench.${spec.runId}.${n}`, timestamp: now });
    });
    out.push(JSON.stringify(messagesPayload(spec.phoneNumberId, messages)));
  }
  return out;
}

async function post(spec: LoadSpec, body: string): Promise<boolean> {
  try {
    const res = await fetch(spec.url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-hub-signature-256": sign(body, spec.appSecret) },
      body,
    });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  // Everything is built (and bodies serialized) before the clock starts; signing happens per
  // request, as a sender would.
  const warm = buildPayloads(spec, spec.warmup, 0);
  const bodies = buildPayloads(spec, spec.payloads, spec.warmup);
  for (let i = 0; i < warm.length; i += spec.concurrency) {
    await Promise.all(warm.slice(i, i + spec.concurrency).map((b) => post(spec, b)));
  }
  const latencies: number[] = [];
  let next = 0, ok = 0, failed = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: spec.concurrency }, async () => {
    while (next < bodies.length) {
      const body = bodies[next++];
      const t0 = performance.now();
      if (await post(spec, body)) ok++;
      else failed++;
      latencies.push(performance.now() - t0);
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (q: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0);
  return {
    sent: spec.warmup + spec.payloads,
    messages: spec.payloads * MESSAGES_PER_PAYLOAD,
    ok, failed, seconds, p50: pct(0.5), p99: pct(0.99),
    bytesPerPayload: bodies[0]?.length ?? 0,
  };
}

function runLoadProcess(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(`${root}node_modules/.bin/tsx`, [`${root}scripts/bench-webhook.ts`, "--load", JSON.stringify(spec)], {
      cwd: root, stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`load process exited with code ${code}`));
      try {
        resolve(JSON.parse(out.trim().split("\n").pop()!) as LoadResult);
      } catch (err) {
        reject(err);
      }
    });
  });
}

// ---- the floor: a bare multi-row insert of the same number of rows ------------------------

async function floorInsert(databaseUrl: string, distributorId: string, rows: number, concurrency: number): Promise<number> {
  const sql = postgres(databaseUrl, { max: concurrency, onnotice: () => {} });
  try {
    await sql`drop table if exists public.bench_webhook_floor`;
    await sql`create table public.bench_webhook_floor (
      id uuid primary key, distributor_id uuid not null, external_id text not null, body text not null,
      created_at timestamptz not null default now())`;
    const batches = Math.ceil(rows / MESSAGES_PER_PAYLOAD);
    const body = "x".repeat(180); // about a sealed short message
    const make = (b: number, prefix = "floor") =>
      Array.from({ length: Math.min(MESSAGES_PER_PAYLOAD, rows - b * MESSAGES_PER_PAYLOAD) }, (_, i) => ({
        id: crypto.randomUUID(), distributor_id: distributorId, external_id: `${prefix}.${b}.${i}`, body,
      }));
    const prepared = Array.from({ length: batches }, (_, b) => make(b));
    // warm every connection and the plan
    await Promise.all(Array.from({ length: concurrency }, (_, c) => sql`insert into public.bench_webhook_floor ${sql(make(0, `warm${c}`))}`));
    let next = 0;
    const started = performance.now();
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < prepared.length) {
        const batch = prepared[next++];
        await sql`insert into public.bench_webhook_floor ${sql(batch)}`;
      }
    }));
    const seconds = (performance.now() - started) / 1000;
    return rows / seconds;
  } finally {
    await sql`drop table if exists public.bench_webhook_floor`.catch(() => {});
    await sql.end();
  }
}

// ---- the benchmark ----------------------------------------------------------------------

export async function runWebhookBench(opts: WebhookBenchOptions): Promise<string> {
  const payloads = opts.payloads ?? Number(process.env.BENCH_WEBHOOK_PAYLOADS ?? 400);
  const concurrency = opts.concurrency ?? Number(process.env.BENCH_WEBHOOK_CONCURRENCY ?? 10);
  const warmup = opts.warmupPayloads ?? Math.min(50, Math.max(2, Math.floor(payloads / 8)));
  const sql = postgres(opts.databaseUrl, { max: 2, onnotice: () => {} });
  try {
    // A distributor with a connected number, arranged as the service.
    const keyring = await createKeyring({ version: 1, hex: opts.masterKeyHex });
    const ownerId = crypto.randomUUID();
    await ensureUser(sql, ownerId, `bench-${ownerId.slice(0, 8)}@example.com`);
    const d = await sql.begin((tx) => createDistributor(tx, keyring, { name: "Webhook bench", ownerId }));
    const keys = await new DistributorKeyCache(sql, keyring).get(d.id);
    const accountId = crypto.randomUUID();
    const phoneNumberId = `77${Date.now()}${Math.floor(Math.random() * 1000)}`.slice(0, 16);
    const token = await sealAccessToken(keys, accountId, "bench-token");
    await sql`insert into public.whatsapp_accounts (id, distributor_id, phone_number_id, display_phone_number, access_token_encrypted, access_token_iv, key_version)
              values (${accountId}, ${d.id}, ${phoneNumberId}, '+1 555 010 0000', ${token.encryptedValue}, ${token.iv}, ${token.keyVersion})`;

    const runId = randomBytes(6).toString("hex");
    const load = await runLoadProcess({
      url: `${opts.baseUrl}/functions/v1/webhook-whatsapp`, appSecret: opts.appSecret, phoneNumberId, runId,
      payloads, warmup, concurrency,
    });
    const sentMessages = load.sent * MESSAGES_PER_PAYLOAD;
    const [stored] = await sql<{ messages: number; distinct_ids: number; pii: number; has_pii: number; outbox: number; customers: number }[]>`
      select (select count(*) from public.messages where distributor_id = ${d.id})::int as messages,
             (select count(distinct external_id) from public.messages where distributor_id = ${d.id})::int as distinct_ids,
             (select count(*) from public.pii_detection_results where distributor_id = ${d.id})::int as pii,
             (select count(*) from public.messages where distributor_id = ${d.id} and has_pii)::int as has_pii,
             (select count(*) from public.event_outbox where distributor_id = ${d.id})::int as outbox,
             (select count(*) from public.customers where distributor_id = ${d.id})::int as customers`;

    const floor = await floorInsert(opts.databaseUrl, d.id, load.messages, concurrency);
    const rate = load.messages / load.seconds;
    const exactlyOnce = load.failed === 0 && stored.messages === sentMessages && stored.distinct_ids === sentMessages &&
      stored.outbox === sentMessages;
    return [
      `### webhook-whatsapp ingestion (${payloads} signed payloads × ${MESSAGES_PER_PAYLOAD} new text messages, half with PII; ` +
      `${concurrency} concurrent requests from a second process)`,
      "",
      "| measure | messages | seconds | messages/s | p50 ms | p99 ms | × floor |",
      "|---|---|---|---|---|---|---|",
      `| floor: bare multi-row insert (${MESSAGES_PER_PAYLOAD} rows/statement, ${concurrency} connections) | ${load.messages} | ${(load.messages / floor).toFixed(2)} | ${Math.round(floor)} | | | 1.00 |`,
      `| \`POST /webhook-whatsapp\` (verify, parse, PII, seal, one transaction) | ${load.messages} | ${load.seconds.toFixed(2)} | ${Math.round(rate)} | ${load.p50} | ${load.p99} | ${(rate / floor).toFixed(2)} |`,
      "",
      `Stored exactly once: ${exactlyOnce ? "yes" : "NO"} — sent ${sentMessages} (incl. ${load.sent - payloads} warm-up payloads), ` +
      `stored ${stored.messages} (${stored.distinct_ids} distinct ids), outbox ${stored.outbox}, PII results ${stored.pii} ` +
      `(messages flagged ${stored.has_pii}), customers ${stored.customers}; non-200 answers ${load.failed}. ` +
      `Payload ≈ ${Math.round(load.bytesPerPayload / 1024)} KiB.`,
      `Target: ≥ ${TARGET} messages/s → ${rate >= TARGET && exactlyOnce ? "met" : "NOT met"}.`,
    ].join("\n");
  } finally {
    await sql.end();
  }
}

// ---- entry points -----------------------------------------------------------------------

async function standalone() {
  const stack = await startBenchStack();
  stack.server.stderr?.on("data", (d) => process.stderr.write(d));
  try {
    const out = await runWebhookBench({
      baseUrl: stack.origin, databaseUrl: stack.db.url, appSecret: stack.env.WHATSAPP_APP_SECRET, masterKeyHex: stack.env.SECRET_MASTER_KEY,
    });
    console.log(`\n${out}\n`);
  } finally {
    await stack.stop();
  }
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const run = process.argv[2] === "--load"
    ? runLoad(JSON.parse(process.argv[3]) as LoadSpec).then((r) => console.log(JSON.stringify(r)))
    : standalone();
  run.catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
