// Starts a throw-away PostgreSQL for tests and benchmarks: a real cluster (initdb/pg_ctl in
// a temp dir on a free port) when the binaries exist, PGlite over a socket otherwise.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, chmodSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface DatabaseServer {
  url: string;
  kind: "external" | "postgres" | "pglite";
  /** Stop the server (the data is thrown away, except for a PGlite dataDir). */
  stop(): Promise<void>;
  /** For fault-injection tests: stop and start the same server (real PostgreSQL only). */
  pause?(): void;
  resume?(): void;
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function findPgBin(): string | null {
  const base = "/usr/lib/postgresql";
  if (!existsSync(base)) return null;
  for (const v of readdirSync(base).sort().reverse()) {
    const bin = join(base, v, "bin");
    if (existsSync(join(bin, "initdb")) && existsSync(join(bin, "pg_ctl"))) return bin;
  }
  return null;
}

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

function runAsPostgres(cmd: string, args: string[]): void {
  const full = isRoot ? ["-u", "postgres", "--", cmd, ...args] : args;
  const res = spawnSync(isRoot ? "runuser" : cmd, full, { encoding: "utf8" });
  if (res.status !== 0) throw new Error(`${cmd} failed: ${res.stderr || res.stdout}`);
}

/** Turn SIGINT/SIGTERM into a normal exit, so the 'exit' clean-ups of the servers run. */
export function exitOnSignals(): void {
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));
}

export async function startRealPostgres(): Promise<DatabaseServer | null> {
  const bin = findPgBin();
  if (!bin) return null;
  const dir = mkdtempSync(join(tmpdir(), "pgtest-"));
  chmodSync(dir, 0o777);
  if (isRoot) execFileSync("chown", ["postgres:postgres", dir]);
  const data = join(dir, "data");
  const port = await freePort();
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  try {
    runAsPostgres(join(bin, "initdb"), ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale"]);
    runAsPostgres(join(bin, "pg_ctl"), ["-D", data, "-o", opts, "-l", join(dir, "log"), "-w", "start"]);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    console.warn(`[db] could not start a real PostgreSQL (${(err as Error).message.split("\n")[0]})`);
    return null;
  }
  const pgctl = (action: string) =>
    runAsPostgres(join(bin, "pg_ctl"), ["-D", data, "-o", opts, "-l", join(dir, "log"), "-w", "-m", "immediate", action]);
  // Synchronous, so it also runs from an 'exit' handler: a run that ends without calling stop()
  // (an error, Ctrl-C through exitOnSignals) leaves no cluster behind.
  const stopNow = () => {
    process.off("exit", stopNow);
    try { pgctl("stop"); } catch { /* already stopped */ }
    rmSync(dir, { recursive: true, force: true });
  };
  process.on("exit", stopNow);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    kind: "postgres",
    pause: () => pgctl("stop"),
    resume: () => pgctl("start"),
    async stop() {
      stopNow();
    },
  };
}

/**
 * PGlite is one session: its socket server multiplexes clients onto it, so transactions from
 * two client connections would interleave. Clients must therefore use ONE pooled connection
 * for transactional work (DB_POOL_MAX=1); extra connections are for occasional tools.
 */
export async function startPglite(dataDir?: string, port?: number, maxConnections = 8): Promise<DatabaseServer> {
  const { PGlite } = await import("@electric-sql/pglite");
  const { PGLiteSocketServer } = await import("@electric-sql/pglite-socket");
  const db = await PGlite.create(dataDir ? { dataDir } : {});
  const listenPort = port ?? (await freePort());
  const server = new PGLiteSocketServer({ db, port: listenPort, host: "127.0.0.1", maxConnections });
  await server.start();
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${listenPort}/postgres`,
    kind: "pglite",
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}

/** TEST_DATABASE_URL, else a real throw-away PostgreSQL, else PGlite (saying so). */
export async function startTestDatabase(): Promise<DatabaseServer> {
  const external = process.env.TEST_DATABASE_URL;
  if (external) return { url: external, kind: "external", async stop() {} };
  // TEST_DATABASE=pglite forces the embedded fallback (to check the suite on it).
  const real = process.env.TEST_DATABASE === "pglite" ? null : await startRealPostgres();
  if (real) return real;
  console.warn("[db] no PostgreSQL server binaries usable here: falling back to PGlite (embedded)");
  return await startPglite();
}
