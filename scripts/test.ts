// `npm test`: type checks (tsc, deno check), the vitest suite, and the pgTAP RLS tests.
// Ends with one plain line "N passed, N failed" counted from vitest's JSON report + pg_prove.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { denoBin, root } from "./lib/deno.ts";

const bin = (name: string) => `${root}node_modules/.bin/${name}`;
let passed = 0;
let failed = 0;
const problems: string[] = [];

function step(label: string, cmd: string, args: string[], env: Record<string, string> = {}): boolean {
  console.log(`\n▶ ${label}`);
  const res = spawnSync(cmd, args, { cwd: root, stdio: "inherit", env: { ...process.env, ...env } });
  const ok = res.status === 0;
  if (!ok) problems.push(label);
  return ok;
}

// 1. Types: Node side (tsc) and every Deno entrypoint (deno check).
if (step("tsc --noEmit", bin("tsc"), ["--noEmit", "-p", "tsconfig.json"])) passed++; else failed++;
const entries = readdirSync(`${root}functions`).map((f) => `functions/${f}/index.ts`).filter((f) => existsSync(`${root}${f}`));
if (step(`deno check (${entries.length} functions + local server)`, denoBin, ["check", ...entries, "scripts/serve.ts"], { DENO_NO_UPDATE_CHECK: "1" })) passed++; else failed++;

// 2. vitest, with a JSON report to count from.
mkdirSync(`${root}.tmp`, { recursive: true });
const report = `${root}.tmp/vitest-report.json`;
step("vitest", bin("vitest"), ["run", "--reporter=default", "--reporter=json", `--outputFile.json=${report}`]);
if (existsSync(report)) {
  const r = JSON.parse(readFileSync(report, "utf8")) as { numPassedTests: number; numFailedTests: number; numPendingTests: number; numTodoTests: number; testResults: { status: string; name: string; assertionResults: unknown[] }[] };
  passed += r.numPassedTests;
  failed += r.numFailedTests + r.numPendingTests + r.numTodoTests;
  // A file that failed to load has no test results but counts as a failure.
  failed += r.testResults.filter((t) => t.status === "failed" && t.assertionResults.length === 0).length;
} else {
  failed++;
  problems.push("vitest produced no report");
}

// 3. pgTAP: RLS tested in SQL on a real PostgreSQL.
const pgtap = `${root}tests/db/run-pgtap.ts`;
if (existsSync(pgtap)) {
  console.log("\n▶ pgTAP (pg_prove)");
  const { runPgTap } = (await import(pgtap)) as { runPgTap: () => Promise<{ passed: number; failed: number; output: string; unavailable?: string }> };
  try {
    const r = await runPgTap();
    console.log(r.output);
    passed += r.passed;
    failed += r.failed;
    if (r.failed) problems.push("pgTAP");
  } catch (err) {
    const msg = (err as Error).message;
    if (process.env.CI) {
      failed++;
      problems.push(`pgTAP could not run: ${msg}`);
    } else {
      console.warn(`pgTAP not run on this machine (${msg}); CI installs postgresql-15-pgtap and runs it.`);
    }
  }
}

if (problems.length) console.log(`\nFailed steps: ${problems.join("; ")}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || problems.length > 0 ? 1 : 0);
