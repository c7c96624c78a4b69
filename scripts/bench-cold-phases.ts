// Where a function's cold start goes: each phase of its start (Deno boot; postgres.js + hono,
// which the bare select-1 server loads too; zod + @hono/zod-openapi; shared/; the function's own
// modules; deps; createApp), timed inside a fresh Deno process per function and round
// (scripts/lib/start-phases.ts), medians of BENCH_COLD_ROUNDS (default 5) after one warm-up
// round that fills Deno's caches. No database is needed.
//   npx tsx scripts/bench-cold-phases.ts [function ...]
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { denoBin, root } from "./lib/deno.ts";

const ROUNDS = Number(process.env.BENCH_COLD_ROUNDS ?? 5);
const all = readdirSync(`${root}functions`, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
const functions = process.argv.slice(2).length ? process.argv.slice(2) : all;
// A valid configuration; nothing listens on DATABASE_URL and nothing connects to it.
const env = {
  ...process.env,
  DATABASE_URL: "postgres://postgres@127.0.0.1:1/postgres",
  SUPABASE_JWT_SECRET: "phases-jwt-secret-with-at-least-32-characters",
  SECRET_MASTER_KEY: "11".repeat(32),
  WHATSAPP_VERIFY_TOKEN: "phases-verify-token",
  WHATSAPP_APP_SECRET: "phases-app-secret",
  LOG_LEVEL: "warn",
  DENO_NO_UPDATE_CHECK: "1",
  NO_COLOR: "1",
};

function once(fn: string): Record<string, number> {
  const r = spawnSync(denoBin, ["run", "-A", "--no-prompt", "scripts/lib/start-phases.ts", fn], { cwd: root, env, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${fn}: exited ${r.status}: ${r.stderr.slice(-1000)}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const samples = new Map(functions.map((f) => [f, [] as Record<string, number>[]]));
for (const f of functions) once(f); // warm-up: Deno's module and code caches
for (let r = 0; r < ROUNDS; r++) for (const f of functions) samples.get(f)!.push(once(f));

const phases = Object.keys(samples.get(functions[0])![0]);
console.log(`\n### Where a start goes (ms, median of ${ROUNDS} alternating rounds; postgres.js + hono is what the bare select 1 loads too)\n`);
console.log(`| function | ${phases.join(" | ")} |`);
console.log(`|---|${phases.map(() => "---").join("|")}|`);
for (const [f, s] of samples) console.log(`| ${f} | ${phases.map((p) => median(s.map((x) => x[p])).toFixed(0)).join(" | ")} |`);
