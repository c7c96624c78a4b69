// `npm run bench` (not part of npm test): throughput of the served functions on a real
// PostgreSQL, each beside the BARE floor (scripts/bench-bare.ts: Deno + Hono + postgres.js,
// nothing else) and the project floor (scripts/bench-floor.ts: the shared HTTP stack + `select 1`)
// measured in the same run; cold starts (scripts/bench-cold.ts, BENCH_COLD=0 skips them); the
// webhook and PII figures. BENCH_SECONDS, BENCH_ROUNDS, BENCH_POOL, BENCH_ONLY, BENCH_EXTRAS tune it.
import { execFileSync } from "node:child_process";
import postgres from "postgres";
import { cpuMeter, postgresPids, startBareServer, startBenchStack } from "./lib/bench-stack.ts";
import { exitOnSignals } from "./db/server.ts";
import { root } from "./lib/deno.ts";
import { ensureUser, signDevToken } from "./lib/dev-tokens.ts";
import { createKeyring } from "../shared/crypto/index.ts";
import { sealSecret } from "../shared/secrets/index.ts";
import { loadConfig } from "../shared/config/index.ts";
import { createDistributor } from "../shared/tenancy/index.ts";
import { existsSync } from "node:fs";

const DURATION = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = 50;
/** BENCH_ONLY=floor,get: measure only these targets (the bare floor always runs). */
const ONLY = process.env.BENCH_ONLY?.split(",");
/** BENCH_EXTRAS=0: skip the webhook and PII sections. */
const EXTRAS = process.env.BENCH_EXTRAS !== "0";

interface LoadResult {
  requests: number; rps: number; p50: number; p99: number; non2xx: number; errors: number; timeouts: number; loadCpuMs: number;
  /** CPU microseconds per request by process group (from /proc, measured around the round). */
  cpu?: Record<string, number>;
}

function load(spec: Record<string, unknown>): LoadResult {
  const out = execFileSync(`${root}node_modules/.bin/tsx`, [`${root}scripts/lib/load.ts`, JSON.stringify(spec)], { encoding: "utf8", maxBuffer: 1 << 26 });
  return JSON.parse(out.trim().split("\n").pop()!) as LoadResult;
}

interface Target {
  key: string;
  label: string;
  url: string;
  headerSets: Record<string, string>[];
  /** Which server answers it (its CPU is the "server" column). */
  server: "bare" | "bareHeaders" | "project";
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
  const pool = String(loadConfig(env).DB_POOL_MAX);
  const bare = await startBareServer(db.url, pool);
  const bareHeaders = await startBareServer(db.url, pool, "headers");
  const base = `${stack.origin}/functions/v1`;
  const sections: string[] = [];
  try {
    // 50 users, one secret each: one virtual user per connection. All of them are members of one
    // distributor (OWNER the first, MANAGER the others) for the tenant routes.
    const sql = postgres(db.url, { max: 2, onnotice: () => {} });
    const keyring = await createKeyring({ version: 1, hex: env.SECRET_MASTER_KEY });
    const userIds: string[] = [];
    const headerSets: Record<string, string>[] = [];
    for (let i = 0; i < CONNECTIONS; i++) {
      const id = crypto.randomUUID();
      userIds.push(id);
      await ensureUser(sql, id);
      const s = await sealSecret(keyring, id, "openai_api_key_encrypted", `sk-bench-${i}`);
      await sql`insert into public.user_secrets (user_id, service_name, encrypted_value, initialization_vector, key_version, aad_bound)
                values (${id}, 'openai_api_key_encrypted', ${s.encryptedValue}, ${s.iv}, 1, true)`;
      headerSets.push({ authorization: `Bearer ${await signDevToken(env.SUPABASE_JWT_SECRET, { sub: id })}` });
    }
    const distributor = await sql.begin((tx) => createDistributor(tx as never, keyring, { name: "Bench Distribution", ownerId: userIds[0] }));
    for (const id of userIds.slice(1)) {
      await sql`insert into public.distributor_members (distributor_id, user_id, role) values (${distributor.id}, ${id}, 'MANAGER')`;
    }
    await sql.end();
    const tenantHeaders = headerSets.map((h) => ({ ...h, "x-distributor-id": distributor.id }));

    const allTargets: Target[] = [
      { key: "bare", label: "bare floor: Deno + Hono + postgres.js, `select 1`", url: `${bare.origin}/`, headerSets, server: "bare" },
      { key: "headers", label: "bare floor + the frame's 16 response headers", url: `${bareHeaders.origin}/`, headerSets, server: "bareHeaders" },
      { key: "floor", label: "project floor: shared stack + `select 1`", url: `${base}/bench-floor`, headerSets, server: "project" },
      { key: "get", label: "`manage-user-secrets?action=get`", url: `${base}/manage-user-secrets?action=get&serviceName=openai_api_key_encrypted`, headerSets, server: "project" },
      { key: "list", label: "`manage-user-secrets?action=list`", url: `${base}/manage-user-secrets?action=list`, headerSets, server: "project" },
      { key: "distributors", label: "`distributors` GET /", url: `${base}/distributors`, headerSets, server: "project" },
      { key: "conversations", label: "`messages` GET /conversations", url: `${base}/messages/conversations`, headerSets: tenantHeaders, server: "project" },
    ];
    const targets = allTargets.filter((t) => !ONLY || ONLY.includes(t.key) || t.key === "bare");

    const pgPort = Number(new URL(db.url).port);
    const meter = () => cpuMeter({
      bare: () => [bare.server.pid!],
      bareHeaders: () => [bareHeaders.server.pid!],
      project: () => [stack.server.pid!],
      postgres: () => postgresPids(pgPort),
    });
    for (const t of targets) load({ url: t.url, connections: CONNECTIONS, durationSeconds: 2, headerSets: t.headerSets }); // warm-up
    // Every target runs once per round, in the same order, for ROUNDS rounds; each reports its
    // median round, and ratios are taken within a round, so a drift of this shared machine's
    // speed during the run biases no side of a ratio.
    const rounds: Record<string, LoadResult>[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const round: Record<string, LoadResult> = {};
      for (const t of targets) {
        const stop = meter();
        const res = load({ url: t.url, connections: CONNECTIONS, durationSeconds: DURATION, headerSets: t.headerSets });
        const ticks = stop();
        const perReq = (tk: number) => Math.round((tk * 10_000) / Math.max(1, res.requests)); // 1 tick = 10 ms
        res.cpu = { server: perReq(ticks[t.server]), postgres: perReq(ticks.postgres), load: Math.round((res.loadCpuMs * 1000) / Math.max(1, res.requests)) };
        round[t.key] = res;
      }
      rounds.push(round);
    }
    const mid = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const rows = targets.map((t) => {
      const rs = rounds.map((r) => r[t.key]);
      const med = [...rs].sort((a, b) => a.rps - b.rps)[Math.floor(rs.length / 2)];
      const ratios = rounds.map((r) => r[t.key].rps / r.bare.rps);
      return { t, med, ratio: mid(ratios), ratios, cpu: (k: string) => mid(rs.map((x) => x.cpu![k])) };
    });
    const byKey = Object.fromEntries(rows.map((r) => [r.t.key, r]));
    const verdict = (key: string, min: number) =>
      byKey[key] ? `${key} ≥ ${min.toFixed(2)} × bare → ${byKey[key].ratio >= min ? "met" : "NOT met"} (${byKey[key].ratio.toFixed(2)})` : "";
    sections.push([
      `### Throughput (${db.kind}, pool ${pool} on both servers, ${CONNECTIONS} connections, ${ROUNDS} alternating rounds of ${DURATION} s, medians, load from a second process)`,
      "",
      "| endpoint | requests/s | p50 ms | p99 ms | non-2xx/errors | × bare | per-round × bare | CPU µs/req server | PostgreSQL | load generator |",
      "|---|---|---|---|---|---|---|---|---|---|",
      ...rows.map((r) =>
        `| ${r.t.label} | ${Math.round(r.med.rps)} | ${r.med.p50} | ${r.med.p99} | ${r.med.non2xx + r.med.errors + r.med.timeouts} | ${r.ratio.toFixed(2)} | ${r.ratios.map((x) => x.toFixed(2)).join(", ")} | ${r.cpu("server")} | ${r.cpu("postgres")} | ${r.cpu("load")} |`
      ),
      "",
      `Targets: ${[verdict("floor", 0.85), verdict("get", 0.25)].filter(Boolean).join("; ")}.`,
    ].join("\n"));

    if (process.env.BENCH_COLD !== "0") {
      const { runColdBench } = await import("./bench-cold.ts");
      sections.push(await runColdBench({ databaseUrl: db.url, env }));
    }

    const webhookBench = `${root}scripts/bench-webhook.ts`;
    if (EXTRAS && existsSync(webhookBench)) {
      const { runWebhookBench } = await import(webhookBench);
      sections.push(await runWebhookBench({ baseUrl: stack.origin, databaseUrl: db.url, appSecret: env.WHATSAPP_APP_SECRET, masterKeyHex: env.SECRET_MASTER_KEY }));
    }
  } finally {
    bare.stop();
    bareHeaders.stop();
    await stack.stop();
  }

  const piiBench = `${root}scripts/bench-pii.ts`;
  if (EXTRAS && existsSync(piiBench)) {
    const { runPiiBench } = await import(piiBench);
    sections.push(await runPiiBench());
  }
  console.log(`\n## Benchmark (${new Date().toISOString().slice(0, 10)})\n\n${sections.join("\n\n")}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
