// `npm run bench` (not part of npm test): throughput of the served functions on a real
// PostgreSQL, each beside a floor measured in the same run, plus the PII module's figures.
import { execFileSync } from "node:child_process";
import postgres from "postgres";
import { startBenchStack } from "./lib/bench-stack.ts";
import { exitOnSignals } from "./db/server.ts";
import { root } from "./lib/deno.ts";
import { ensureUser, signDevToken } from "./lib/dev-tokens.ts";
import { createKeyring } from "../shared/crypto/index.ts";
import { sealSecret } from "../shared/secrets/index.ts";
import { loadConfig } from "../shared/config/index.ts";
import { existsSync } from "node:fs";

const DURATION = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = 50;

interface LoadResult { requests: number; rps: number; p50: number; p99: number; non2xx: number; errors: number; timeouts: number }

function load(spec: Record<string, unknown>): LoadResult {
  const out = execFileSync(`${root}node_modules/.bin/tsx`, [`${root}scripts/lib/load.ts`, JSON.stringify(spec)], { encoding: "utf8", maxBuffer: 1 << 26 });
  return JSON.parse(out.trim().split("\n").pop()!) as LoadResult;
}

async function main() {
  exitOnSignals();
  const stack = await startBenchStack({
    SECRETS_RATE_LIMIT_PER_MINUTE: "1000000",
    MESSAGES_RATE_LIMIT_PER_MINUTE: "1000000",
    ...(process.env.BENCH_POOL ? { DB_POOL_MAX: process.env.BENCH_POOL } : {}),
    BENCH_FLOOR: "1",
  });
  const { db, env } = stack;
  const base = `${stack.origin}/functions/v1`;
  const sections: string[] = [];
  try {
    // 50 users, one secret each: one virtual user per connection.
    const sql = postgres(db.url, { max: 2, onnotice: () => {} });
    const keyring = await createKeyring({ version: 1, hex: env.SECRET_MASTER_KEY });
    const headerSets: Record<string, string>[] = [];
    for (let i = 0; i < CONNECTIONS; i++) {
      const id = crypto.randomUUID();
      await ensureUser(sql, id);
      const s = await sealSecret(keyring, id, "openai_api_key_encrypted", `sk-bench-${i}`);
      await sql`insert into public.user_secrets (user_id, service_name, encrypted_value, initialization_vector, key_version, aad_bound)
                values (${id}, 'openai_api_key_encrypted', ${s.encryptedValue}, ${s.iv}, 1, true)`;
      headerSets.push({ authorization: `Bearer ${await signDevToken(env.SUPABASE_JWT_SECRET, { sub: id })}` });
    }
    await sql.end();

    // Floor and get alternate for ROUNDS rounds and each reports its median round, so a drift of
    // this shared machine's speed during the run biases neither side of the ratio.
    const floorUrl = `${base}/bench-floor`;
    const getUrl = `${base}/manage-user-secrets?action=get&serviceName=openai_api_key_encrypted`;
    for (const url of [floorUrl, getUrl]) load({ url, connections: CONNECTIONS, durationSeconds: 2, headerSets }); // warm-up
    const rounds: { floor: LoadResult; get: LoadResult }[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const floor = load({ url: floorUrl, connections: CONNECTIONS, durationSeconds: DURATION, headerSets });
      const get = load({ url: getUrl, connections: CONNECTIONS, durationSeconds: DURATION, headerSets });
      rounds.push({ floor, get });
    }
    const median = (pick: (x: { floor: LoadResult; get: LoadResult }) => LoadResult) =>
      rounds.map(pick).sort((a, b) => a.rps - b.rps)[Math.floor(ROUNDS / 2)];
    const floor = median((x) => x.floor);
    const get = median((x) => x.get);
    const ratios = rounds.map((x) => x.get.rps / x.floor.rps);
    const row = (name: string, r: LoadResult, ratio: string) =>
      `| ${name} | ${Math.round(r.rps)} | ${r.p50} | ${r.p99} | ${r.non2xx + r.errors + r.timeouts} | ${ratio} |`;
    sections.push([
      `### manage-user-secrets (${db.kind}, pool ${loadConfig(env).DB_POOL_MAX}, ${CONNECTIONS} connections, median of ${ROUNDS} alternating rounds of ${DURATION} s, load from a second process)`,
      "",
      "| endpoint | requests/s | p50 ms | p99 ms | non-2xx/errors | × floor |",
      "|---|---|---|---|---|---|",
      row("floor: Deno + Hono + pool, `select 1`", floor, "1.00"),
      row("`manage-user-secrets?action=get`", get, (get.rps / floor.rps).toFixed(2)),
      "",
      `Per-round ratios: ${ratios.map((x) => x.toFixed(2)).join(", ")}.`,
      `Target: get ≥ 0.50 × floor → ${get.rps / floor.rps >= 0.5 ? "met" : "NOT met"}.`,
    ].join("\n"));

    const webhookBench = `${root}scripts/bench-webhook.ts`;
    if (existsSync(webhookBench)) {
      const { runWebhookBench } = await import(webhookBench);
      sections.push(await runWebhookBench({ baseUrl: stack.origin, databaseUrl: db.url, appSecret: env.WHATSAPP_APP_SECRET, masterKeyHex: env.SECRET_MASTER_KEY }));
    }
  } finally {
    await stack.stop();
  }

  const piiBench = `${root}scripts/bench-pii.ts`;
  if (existsSync(piiBench)) {
    const { runPiiBench } = await import(piiBench);
    sections.push(await runPiiBench());
  }
  console.log(`\n## Benchmark (${new Date().toISOString().slice(0, 10)})\n\n${sections.join("\n\n")}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
