// Cold starts: for each function, the time from spawning a fresh Deno process that serves only
// that function (functions/<name>/index.ts, the same environment as the server) to its first
// answer on its cheap route (scripts/lib/cold-routes.ts), beside a bare Deno + Hono hello and a
// bare Deno + Hono + postgres.js `select 1` (scripts/bench-bare.ts) measured the same way, in the same rounds (median of
// BENCH_COLD_ROUNDS, default 10, after one warm-up round that fills Deno's module cache).
//   npm run bench:cold            (its own throw-away PostgreSQL)
//   part of npm run bench         (runColdBench on the benchmark's stack)
// Each process is also measured from a single-file bundle (`deno bundle`, like the eszip the
// Supabase edge runtime deploys: no per-module resolution at start), BENCH_COLD_BUNDLED=0 skips it.
// Beside the wall time, the CPU time the process used by its first answer (all threads, Linux
// only): on a shared machine it moves far less than the wall time.
// BENCH_COLD_BASELINE=<dir of another checkout> adds each function as served from that checkout
// ("<name> (baseline)"), in the same alternating rounds: before/after figures from one run. The
// checkout needs its own node_modules (a symlink to this one's will do).
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exitOnSignals, freePort } from "./db/server.ts";
import { denoBin, DENO_RUN_FLAGS, root } from "./lib/deno.ts";
import { coldEnv, coldRequest, coldRequests } from "./lib/cold-routes.ts";
import { startBenchStack } from "./lib/bench-stack.ts";

const ROUNDS = Number(process.env.BENCH_COLD_ROUNDS ?? 10);

interface ColdTarget {
  name: string;
  /** Deno script and arguments. */
  argv: string[];
  request: (origin: string) => { url: string; init: RequestInit };
  /** Directory to run in (default: this checkout). */
  cwd?: string;
}

/**
 * CPU time the process has used so far, all its threads (Linux /proc schedstat, ns → ms), or NaN.
 * Unlike the wall time, it hardly moves when other work shares the machine.
 */
function cpuMs(pid: number | undefined): number {
  try {
    let ns = 0;
    for (const task of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0]);
    return ns / 1e6;
  } catch {
    return NaN;
  }
}

type Sample = { ms: number; cpu: number; status: number };

/** Spawn, poll the route until it answers, return ms to the first answer, CPU ms used by then, and its status. */
async function coldStart(t: ColdTarget, env: Record<string, string>): Promise<Sample> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const started = performance.now();
  const child = spawn(denoBin, [...DENO_RUN_FLAGS, ...t.argv], {
    cwd: t.cwd ?? root,
    env: { ...env, PORT: String(port), DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    stdio: ["ignore", "ignore", "ignore"],
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  try {
    const { url, init } = t.request(origin);
    while (performance.now() - started < 30_000) {
      if (child.exitCode !== null) throw new Error(`${t.name}: exited with ${child.exitCode}`);
      try {
        const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
        await res.arrayBuffer();
        return { ms: performance.now() - started, cpu: cpuMs(child.pid), status: res.status };
      } catch {
        await new Promise((r) => setTimeout(r, 2));
      }
    }
    throw new Error(`${t.name}: no answer within 30 s`);
  } finally {
    child.kill("SIGKILL");
    await exited;
  }
}

export async function runColdBench(o: { databaseUrl: string; env: Record<string, string> }): Promise<string> {
  const requests = await coldRequests(o.databaseUrl, o.env);
  const only = process.env.BENCH_COLD_ONLY?.split(",");
  const baseline = process.env.BENCH_COLD_BASELINE?.replace(/\/?$/, "/");
  const functions = readdirSync(`${root}functions`).filter((n) => existsSync(`${root}functions/${n}/index.ts`) && (!only || only.includes(n))).sort();
  const targets: ColdTarget[] = [
    { name: "bare: Deno + Hono hello", argv: ["scripts/bench-bare.ts", "hello"], request: (x) => ({ url: `${x}/`, init: {} }) },
    { name: "bare: Deno + Hono + postgres.js `select 1`", argv: ["scripts/bench-bare.ts", "select"], request: (x) => ({ url: `${x}/`, init: {} }) },
    ...functions.flatMap((n) => {
      const { path, init } = coldRequest(requests, n);
      const t: ColdTarget = { name: n, argv: [`functions/${n}/index.ts`], request: (x: string) => ({ url: `${x}${path}`, init }) };
      return baseline && existsSync(`${baseline}${t.argv[0]}`) ? [t, { ...t, name: `${n} (baseline)`, cwd: baseline }] : [t];
    }),
  ];
  const env = coldEnv(o.env);
  const bundleDir = mkdtempSync(join(tmpdir(), "cold-bundles-"));
  const bundled: ColdTarget[] = [];
  if (process.env.BENCH_COLD_BUNDLED !== "0") {
    targets.forEach((t, i) => {
      const out = join(bundleDir, `${i}.js`);
      try {
        execFileSync(denoBin, ["bundle", "--quiet", "--platform=deno", t.argv[0], "-o", out], { cwd: t.cwd ?? root, stdio: "ignore", env: { ...process.env, NO_COLOR: "1" } });
        bundled.push({ ...t, name: `${t.name} (bundled)`, argv: [out, ...t.argv.slice(1)] });
      } catch { /* not bundleable: measured unbundled only */ }
    });
  }
  const all = [...targets, ...bundled];
  for (const t of all) await coldStart(t, env).catch(() => null); // warm-up: Deno's caches
  const samples = new Map<string, Sample[]>(all.map((t) => [t.name, []]));
  try {
    for (let r = 0; r < ROUNDS; r++) {
      for (const t of all) samples.get(t.name)!.push(await coldStart(t, env));
    }
  } finally {
    rmSync(bundleDir, { recursive: true, force: true });
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const med = new Map([...samples].map(([k, v]) => [k, median(v.map((s) => s.ms))]));
  const medCpu = new Map([...samples].map(([k, v]) => [k, median(v.map((s) => s.cpu))]));
  const table = (list: ColdTarget[], baseName: string) => list.map((t) => {
    const s = samples.get(t.name)!;
    const statuses = [...new Set(s.map((x) => x.status))].join("/");
    const m = med.get(t.name)!;
    const ratio = m / med.get(baseName)!;
    const cpu = medCpu.get(t.name)!;
    const verdict = t.name.startsWith("bare") ? "" : ratio <= 1.5 ? "met" : "NOT met";
    return `| ${t.name} | ${statuses} | ${Math.round(m)} | ${Math.round(Math.min(...s.map((x) => x.ms)))}–${Math.round(Math.max(...s.map((x) => x.ms)))} | ${ratio.toFixed(2)} | ${verdict} | ${Math.round(cpu)} | ${(cpu / medCpu.get(baseName)!).toFixed(2)} |`;
  });
  const base = med.get(targets[1].name)!;
  const rows = table(targets, targets[1].name);
  const bundledBase = bundled.find((t) => t.name.startsWith(targets[1].name));
  if (bundledBase) rows.push(...table(bundled, bundledBase.name));
  const missed = targets.filter((t) => !t.name.startsWith("bare") && med.get(t.name)! / base > 1.5).map((t) => t.name);
  const missedBundled = bundledBase
    ? bundled.filter((t) => !t.name.startsWith("bare") && med.get(t.name)! / med.get(bundledBase.name)! > 1.5).map((t) => t.name)
    : [];
  return [
    `### Cold start (spawn → first answer on a cheap route, median of ${ROUNDS} alternating rounds, ms)`,
    "",
    "| process | status | median ms | min–max | × bare select 1 (bundled rows: × bundled bare) | ≤ 1.5× | CPU ms (all threads) | CPU × bare select 1 |",
    "|---|---|---|---|---|---|---|---|",
    ...rows,
    "",
    `Target: every function ≤ 1.5 × the bare select-1 cold start → ${missed.length ? `NOT met (${missed.join(", ")})` : "met"}.`,
    ...(bundledBase ? [`Bundled (ratios to the bundled bare select 1): ${missedBundled.length ? `NOT met (${missedBundled.join(", ")})` : "met"}.`] : []),
  ].join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  exitOnSignals();
  const stack = await startBenchStack();
  try {
    console.log(`\n${await runColdBench({ databaseUrl: stack.db.url, env: stack.env })}\n`);
  } finally {
    await stack.stop();
  }
}
