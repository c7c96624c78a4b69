// The stack every benchmark measures: a throw-away real PostgreSQL (PGlite only when none can
// be started, saying so), the migrations, and the Deno server with fresh secrets.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { prepareDatabase } from "../db/migrate.ts";
import { freePort, startPglite, startRealPostgres, type DatabaseServer } from "../db/server.ts";
import { denoBin, DENO_RUN_FLAGS, root, startDenoServer, waitForHttp } from "./deno.ts";

export interface BenchStack {
  db: DatabaseServer;
  env: Record<string, string>;
  /** http://127.0.0.1:<port> */
  origin: string;
  server: ChildProcess;
  stop(): Promise<void>;
}

/** The environment every benchmark serves functions with: this database and fresh secrets. */
export function benchEnv(databaseUrl: string): Record<string, string> {
  return {
    ...(process.env as Record<string, string>),
    DATABASE_URL: databaseUrl,
    SUPABASE_JWT_SECRET: randomBytes(32).toString("base64url"),
    SECRET_MASTER_KEY: randomBytes(32).toString("hex"),
    WHATSAPP_VERIFY_TOKEN: randomBytes(16).toString("hex"),
    WHATSAPP_APP_SECRET: randomBytes(16).toString("hex"),
    LOG_LEVEL: "warn",
  };
}

export async function startBenchStack(extraEnv: Record<string, string> = {}): Promise<BenchStack> {
  const db = (await startRealPostgres()) ?? (console.warn("[bench] no real PostgreSQL: using PGlite (figures not comparable)"), await startPglite());
  await prepareDatabase(db.url);
  const port = await freePort();
  const env: Record<string, string> = {
    ...benchEnv(db.url),
    ...(db.kind === "pglite" ? { DB_POOL_MAX: "1" } : {}), // otherwise the server's default
    PORT: String(port),
    ...extraEnv,
  };
  const server = startDenoServer(env, "pipe");
  const killServer = () => server.kill("SIGTERM");
  process.on("exit", killServer); // also when the run ends without stop()
  const origin = `http://127.0.0.1:${port}`;
  const stop = async () => {
    process.off("exit", killServer);
    killServer();
    await db.stop();
  };
  try {
    await waitForHttp(`${origin}/functions/v1/`, 60_000, server);
  } catch (err) {
    await stop();
    throw err;
  }
  return { db, env, origin, server, stop };
}

// ---- The bare floor and CPU accounting --------------------------------------------------------

/** Start scripts/bench-bare.ts (`select`: Deno + Hono + postgres.js `select 1`, pool 4). */
export async function startBareServer(databaseUrl: string, pool = "4", mode: "select" | "headers" = "select"): Promise<{ origin: string; server: ChildProcess; stop(): void }> {
  const port = await freePort();
  const server = spawn(denoBin, [...DENO_RUN_FLAGS, "scripts/bench-bare.ts", mode], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", DATABASE_URL: databaseUrl, DB_POOL_MAX: pool, PORT: String(port), DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const stop = () => server.kill("SIGTERM");
  process.on("exit", stop);
  const origin = `http://127.0.0.1:${port}`;
  await waitForHttp(`${origin}/`, 60_000, server);
  return { origin, server, stop: () => (process.off("exit", stop), stop()) };
}

/** utime + stime of a process in clock ticks (USER_HZ, 100 on Linux), 0 when it is gone. */
export function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // f[0] is field 3 (state)
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

/** The PostgreSQL server listening on `port` and all its children (backends, background workers). */
export function postgresPids(port: number): number[] {
  const procs: { pid: number; ppid: number }[] = [];
  let master = 0;
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      procs.push({ pid: Number(d), ppid });
      if (!master) {
        const argv = readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0");
        const i = argv.indexOf("-p");
        if (argv[0].endsWith("postgres") && i > 0 && argv[i + 1] === String(port)) master = Number(d);
      }
    } catch { /* exited meanwhile */ }
  }
  return master ? [master, ...procs.filter((p) => p.ppid === master).map((p) => p.pid)] : [];
}

/** CPU ticks used by groups of processes between two calls of the returned function. */
export function cpuMeter(groups: Record<string, () => number[]>): () => Record<string, number> {
  const read = () => Object.fromEntries(Object.entries(groups).map(([k, pids]) => [k, pids().reduce((s, p) => s + cpuTicks(p), 0)]));
  const start = read();
  return () => {
    const end = read();
    return Object.fromEntries(Object.keys(end).map((k) => [k, end[k] - start[k]]));
  };
}
