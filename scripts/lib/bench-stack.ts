// The stack every benchmark measures: a throw-away real PostgreSQL (PGlite only when none can
// be started, saying so), the migrations, and the Deno server with fresh secrets.
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { prepareDatabase } from "../db/migrate.ts";
import { freePort, startPglite, startRealPostgres, type DatabaseServer } from "../db/server.ts";
import { startDenoServer, waitForHttp } from "./deno.ts";

export interface BenchStack {
  db: DatabaseServer;
  env: Record<string, string>;
  /** http://127.0.0.1:<port> */
  origin: string;
  server: ChildProcess;
  stop(): Promise<void>;
}

export async function startBenchStack(extraEnv: Record<string, string> = {}): Promise<BenchStack> {
  const db = (await startRealPostgres()) ?? (console.warn("[bench] no real PostgreSQL: using PGlite (figures not comparable)"), await startPglite());
  await prepareDatabase(db.url);
  const port = await freePort();
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    DATABASE_URL: db.url,
    SUPABASE_JWT_SECRET: randomBytes(32).toString("base64url"),
    SECRET_MASTER_KEY: randomBytes(32).toString("hex"),
    WHATSAPP_VERIFY_TOKEN: randomBytes(16).toString("hex"),
    WHATSAPP_APP_SECRET: randomBytes(16).toString("hex"),
    ...(db.kind === "pglite" ? { DB_POOL_MAX: "1" } : {}), // otherwise the server's default
    LOG_LEVEL: "warn",
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
