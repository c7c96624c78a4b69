// Runs the pgTAP files in tests/db/*.sql with pg_prove against a throw-away PostgreSQL (or
// TEST_DATABASE_URL), after the platform bootstrap and the migrations.
//
//   npx tsx tests/db/run-pgtap.ts          → prints pg_prove's output, exits with its status
//                                            (0 all passed, non-zero failures), 3 when pgTAP,
//                                            pg_prove or a real PostgreSQL is not available.
//   import { runPgTap } from "./tests/db/run-pgtap.ts"
//     → { passed, failed, output, exitCode }; throws PgTapUnavailableError in the cases above.
import { spawn, spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import postgres from "postgres";
import { prepareDatabase } from "../../scripts/db/migrate.ts";
import { startRealPostgres, type DatabaseServer } from "../../scripts/db/server.ts";

const here = fileURLToPath(new URL(".", import.meta.url));
const root = join(here, "../..");

export const INSTALL_HINT =
  "install it with: apt-get update && apt-get install -y postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl";

export class PgTapUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PgTapUnavailableError";
  }
}

export interface PgTapResult {
  passed: number;
  failed: number;
  output: string;
  /** pg_prove's exit status (non-zero also for a file that died or ran fewer tests than planned). */
  exitCode: number;
}

export interface PgTapOptions {
  /** Database to use (it gets bootstrapped and migrated). Default: TEST_DATABASE_URL, else a throw-away cluster. */
  url?: string;
  /** Test files; default every tests/db/*.sql. */
  files?: string[];
  /** Also write pg_prove's output to this process's stdout/stderr as it arrives. */
  echo?: boolean;
}

export function pgTapFiles(): string[] {
  return readdirSync(here).filter((f) => f.endsWith(".sql")).sort().map((f) => join(here, f));
}

function pgProveAvailable(): boolean {
  const r = spawnSync("pg_prove", ["--version"], { encoding: "utf8" });
  return !r.error && r.status === 0;
}

/**
 * Count TAP results. `ok N` passes (including TODO/SKIP), `not ok N` fails; tests a file
 * planned but never ran (it died, or bailed out) count as failed too.
 */
export function parseTap(output: string): { passed: number; failed: number } {
  let passed = 0, failed = 0, planned = 0, ran = 0;
  const closeFile = () => {
    if (planned > ran) failed += planned - ran;
    planned = 0;
    ran = 0;
  };
  for (const raw of output.split("\n")) {
    // pg_prove --verbose prints "<file> .. " before a file's first TAP line
    const line = raw.replace(/^\S+\.sql \.+ ?/, "").trim();
    if (raw !== line && /\.sql \.+/.test(raw)) closeFile();
    let m: RegExpExecArray | null;
    if ((m = /^1\.\.(\d+)/.exec(line))) planned = Number(m[1]);
    else if (/^not ok \d+/.test(line)) {
      failed++;
      ran++;
    } else if (/^ok \d+/.test(line)) {
      passed++;
      ran++;
    }
  }
  closeFile();
  return { passed, failed };
}

async function runPgProve(url: string, files: string[], echo: boolean): Promise<{ code: number; output: string }> {
  return await new Promise((resolve, reject) => {
    let output = "";
    const child = spawn("pg_prove", ["--verbose", "--failures", "--dbname", url, ...files], {
      cwd: root,
      env: { ...process.env, PGCONNECT_TIMEOUT: "10" },
    });
    const collect = (stream: NodeJS.WriteStream) => (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (echo) stream.write(chunk);
    };
    child.stdout.on("data", collect(process.stdout));
    child.stderr.on("data", collect(process.stderr));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), output }));
  });
}

export async function runPgTap(opts: PgTapOptions = {}): Promise<PgTapResult> {
  if (!pgProveAvailable()) throw new PgTapUnavailableError(`pg_prove is not installed; ${INSTALL_HINT}`);
  const files = opts.files ?? pgTapFiles();
  if (files.length === 0) throw new Error(`no pgTAP files in ${here}`);

  let server: DatabaseServer | null = null;
  let url = opts.url ?? process.env.TEST_DATABASE_URL;
  try {
    if (!url) {
      server = await startRealPostgres();
      if (!server) throw new PgTapUnavailableError("no PostgreSQL server binaries (initdb/pg_ctl) usable here; pgTAP needs a real PostgreSQL, not PGlite");
      url = server.url;
    }
    await prepareDatabase(url);
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const [{ available }] = await sql`select exists(select 1 from pg_available_extensions where name = 'pgtap') as available`;
      if (!available) throw new PgTapUnavailableError(`the pgtap extension is not installed on the database server; ${INSTALL_HINT}`);
      await sql`create extension if not exists pgtap`;
    } finally {
      await sql.end();
    }
    const { code, output } = await runPgProve(url, files, opts.echo ?? false);
    const counts = parseTap(output);
    // A non-zero status with nothing counted as failed (e.g. psql could not connect) is a failure.
    const failed = code !== 0 && counts.failed === 0 ? 1 : counts.failed;
    return { passed: counts.passed, failed, output, exitCode: code };
  } finally {
    await server?.stop();
  }
}

async function main(): Promise<number> {
  try {
    const r = await runPgTap({ echo: true });
    console.log(`\n[pgtap] ${r.passed} passed, ${r.failed} failed (pg_prove exit status ${r.exitCode})`);
    return r.exitCode;
  } catch (err) {
    if (err instanceof PgTapUnavailableError) {
      console.error(`[pgtap] SKIPPED: ${err.message}`);
      return 3;
    }
    console.error(`[pgtap] error: ${(err as Error).message}`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then((code) => process.exit(code));
}
