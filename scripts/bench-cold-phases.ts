// Where a function's cold start goes: each phase of its start (Deno boot; postgres.js + hono,
// which the bare select-1 server loads too; zod + @hono/zod-openapi; shared/; the function's own
// modules; deps; createApp), then its first request split into the token check, the pool's first
// connection and the rest, and a second request (scripts/lib/start-phases.ts), timed inside a
// fresh Deno process per function and round, beside the bare Deno + Hono + postgres.js select 1.
// Medians of BENCH_COLD_ROUNDS (default 5) alternating rounds after one warm-up round that fills
// Deno's caches. Starts its own throw-away PostgreSQL with the migrations (without one, only the
// start phases are timed).
//   npx tsx scripts/bench-cold-phases.ts [function ...]
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { prepareDatabase } from "./db/migrate.ts";
import { exitOnSignals, startRealPostgres } from "./db/server.ts";
import { benchEnv } from "./lib/bench-stack.ts";
import { coldEnv, coldRequest, coldRequests, type ColdRequest } from "./lib/cold-routes.ts";
import { denoBin, root } from "./lib/deno.ts";

const ROUNDS = Number(process.env.BENCH_COLD_ROUNDS ?? 5);
const all = readdirSync(`${root}functions`, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
const functions = process.argv.slice(2).length ? process.argv.slice(2) : all;

exitOnSignals();
const db = await startRealPostgres();
if (db) await prepareDatabase(db.url);
else console.warn("[phases] no real PostgreSQL: start phases only");
// Without a database nothing listens on the address given and nothing connects to it.
const env = coldEnv({ ...benchEnv(db?.url ?? "postgres://postgres@127.0.0.1:1/postgres"), DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" });
const requests = db ? await coldRequests(db.url, env) : null;
const bare: ColdRequest = { path: "/", init: {} };
const targets = [...(db ? ["bare"] : []), ...functions];

function once(target: string): Record<string, number> {
  const request = requests ? (target === "bare" ? bare : coldRequest(requests, target)) : null;
  const args = ["run", "-A", "--no-prompt", "scripts/lib/start-phases.ts", target, ...(request ? [JSON.stringify(request)] : [])];
  const r = spawnSync(denoBin, args, { cwd: root, env, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${target}: exited ${r.status}: ${r.stderr.slice(-1000)}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

try {
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const samples = new Map(targets.map((f) => [f, [] as Record<string, number>[]]));
  for (const f of targets) once(f); // warm-up: Deno's module and code caches
  for (let r = 0; r < ROUNDS; r++) for (const f of targets) samples.get(f)!.push(once(f));

  // In the order they happen in a function's start; the bare server skips those it does not have.
  const order = ["boot", "postgres.js + hono", "zod + @hono/zod-openapi", "shared/", "the function's modules", "deps", "createApp", "token check", "first connection", "first request", "second request"];
  const seen = new Set(targets.flatMap((f) => Object.keys(samples.get(f)![0])));
  const phases = order.filter((p) => seen.has(p));
  const cell = (s: Record<string, number>[], p: string) => (s[0][p] === undefined ? "" : median(s.map((x) => x[p])).toFixed(0));
  console.log(`\n### Where a cold start goes (ms, median of ${ROUNDS} alternating rounds; "total" is to the first answer)\n`);
  console.log(`| target | ${phases.join(" | ")} | total | status |`);
  console.log(`|---|${phases.map(() => "---").join("|")}|---|---|`);
  for (const [f, s] of samples) {
    console.log(`| ${f === "bare" ? "bare: Deno + Hono + postgres.js select 1" : f} | ${phases.map((p) => cell(s, p)).join(" | ")} | ${cell(s, "total")} | ${s[0].status ?? ""} |`);
  }
} finally {
  await db?.stop();
}
