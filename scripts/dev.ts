// `npm start`: embedded PGlite (or DATABASE_URL), migrations, dev secrets, then every function
// served by Deno at http://127.0.0.1:<PORT>/functions/v1/<name>.
//   --no-db-setup (or DB_SETUP=false): do not bootstrap/migrate DATABASE_URL (a real Supabase
//   database, whose migrations the Supabase CLI applies).
// Order matters: every configuration check (variables, ports, the .data/ lock, DATABASE_URL
// reachable) runs before anything is started or printed, so a mistake ends in one message that
// names the variable and a non-zero exit, not in a banner followed by a crash.
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { relative } from "node:path";
import postgres from "postgres";
import { prepareDatabase } from "./db/migrate.ts";
import { startPglite, type DatabaseServer } from "./db/server.ts";
import { devDataDir, devEnvFile, ensureDevSecrets, ENV_FILE, LockHeld, loadLocalEnv, lockDataDir, writeSourceableEnv } from "./lib/env.ts";
import { root, startDenoServer, waitForHttp } from "./lib/deno.ts";
import { devSchedule, startDevCron } from "./lib/dev-cron.ts";
import { startDevGraph } from "./lib/dev-graph.ts";
import { createSession, ensureUser, signAnonKey, signDevToken } from "./lib/dev-tokens.ts";
import { ConfigError, loadConfig } from "../shared/config/index.ts";

const DEV_USER = "00000000-0000-4000-8000-000000000001";
// Only for validating the rest of the configuration before PGlite exists to give a real URL.
const PLACEHOLDER_DB_URL = "postgres://postgres:postgres@127.0.0.1:1/postgres";

/** A configuration problem: printed as is (it names the variable), exit code 1. */
class StartError extends Error {}

function parsePort(env: Record<string, string>, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > 65535) throw new StartError(`${name} must be a port number (1-65535), got "${raw}"`);
  return n;
}

/** Bind the port for a moment: in use (or not ours to bind) is found now, not after the banner. */
async function assertPortFree(port: number, host: string, name: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const srv = createServer();
    srv.once("error", (err: NodeJS.ErrnoException) =>
      reject(new StartError(err.code === "EADDRINUSE"
        ? `${name}: port ${port} on ${host} is already in use (another \`npm start\`? set ${name} to a free port)`
        : `${name}: cannot listen on ${host}:${port} (${err.code ?? err.message})`)));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve()));
  });
}

function checkDatabaseUrlSyntax(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new StartError("DATABASE_URL is not a URL (expected postgres://user:password@host:5432/database)");
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") {
    throw new StartError(`DATABASE_URL must start with postgres:// or postgresql:// (got ${u.protocol}//)`);
  }
  if (!u.hostname) throw new StartError("DATABASE_URL has no host");
}

async function checkDatabaseReachable(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  try {
    await sql`select 1`;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const where = (() => { try { const u = new URL(url); return `${u.hostname}:${u.port || 5432}`; } catch { return "?"; } })();
    // The driver's message names host/port or the auth failure, never the password.
    throw new StartError(`DATABASE_URL: cannot connect to ${where} (${e.code && e.code !== "ERR_POSTGRES_SERVER_ERROR" ? `${e.code}: ` : ""}${e.message})`);
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

/**
 * Stop when whoever started us is gone. npm forwards only SIGINT and SIGTERM to its script, and
 * a SIGHUP to npm (or to tsx) kills it without telling its children: polling the ancestors is
 * what catches that. Linux: every ancestor up to npm; elsewhere: the parent changing.
 */
function onAncestorsGone(stop: () => void): void {
  const chain: { pid: number; ppid: number }[] = [];
  const ppidOf = (pid: number): number | null => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    } catch {
      return null;
    }
  };
  const isNpm = (pid: number) => {
    try {
      // "node /usr/bin/npm run start", ".../npm-cli.js run start", or npm's own title "npm run start"
      return /(^|[\0\/ ])npm(-cli\.js)?([\0 ]|$)/.test(readFileSync(`/proc/${pid}/cmdline`, "utf8"));
    } catch {
      return false;
    }
  };
  const underNpm = !!process.env.npm_lifecycle_event;
  for (let pid = process.ppid, i = 0; pid > 1 && i < 4; i++) {
    const ppid = ppidOf(pid);
    if (ppid === null) break;
    chain.push({ pid, ppid });
    if (!underNpm || isNpm(pid)) break;
    pid = ppid;
  }
  const startPpid = process.ppid;
  const timer = setInterval(() => {
    const gone = process.ppid !== startPpid || chain.some((a) => ppidOf(a.pid) !== a.ppid);
    if (gone) stop();
  }, 500);
  timer.unref();
}

async function main() {
  const env = loadLocalEnv();
  const dataDir = devDataDir(env);
  const host = env.HOST || "127.0.0.1";
  const skipSetup = process.argv.includes("--no-db-setup") || env.DB_SETUP === "false";
  const embedded = !env.DATABASE_URL;

  // 1. Configuration, without touching anything.
  const port = parsePort(env, "PORT", 54321);
  const pglitePort = embedded ? parsePort(env, "PGLITE_PORT", 54322) : 0;
  if (!embedded) checkDatabaseUrlSyntax(env.DATABASE_URL);
  const generated = ensureDevSecrets(env);
  env.PORT = String(port);
  env.CORS_ALLOWED_ORIGINS ??= "http://localhost:3000,http://localhost:5173";
  // Local receivers on 127.0.0.1 for outbound webhooks; refused when ENVIRONMENT=production.
  env.ENVIRONMENT ??= "development";
  env.WEBHOOKS_ALLOW_LOOPBACK ??= "true";
  if (embedded) env.DB_POOL_MAX = "1"; // PGlite is one session: see startPglite
  try {
    loadConfig({ ...env, DATABASE_URL: env.DATABASE_URL || PLACEHOLDER_DB_URL }); // names the variable
  } catch (err) {
    if (err instanceof ConfigError) throw new StartError(err.message);
    throw err;
  }
  // 2. The machine: ports, the data directory, the database server.
  // The lock first: a second `npm start` should hear "already running", not "port in use".
  lockDataDir(dataDir);
  await assertPortFree(port, host, "PORT");
  if (embedded) await assertPortFree(pglitePort, "127.0.0.1", "PGLITE_PORT");
  if (!embedded) await checkDatabaseReachable(env.DATABASE_URL);

  // 3. Start. From here on, a stop (signal, parent gone, Deno exiting) tears everything down.
  if (generated.length) console.log(`[dev] generated ${generated.join(", ")} into ${ENV_FILE}`);
  let pglite: DatabaseServer | null = null;
  let child: ReturnType<typeof startDenoServer> | null = null;
  let stopping = false;
  let stopCron = () => {};
  let devGraph: { url: string; stop: () => Promise<void> } | null = null;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    stopCron();
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child!.once("exit", r));
      child.kill("SIGTERM");
      // serve.ts closes its pool first; do not wait for ever on it.
      const t = setTimeout(() => child!.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(t);
    }
    await pglite?.stop().catch(() => {});
    await devGraph?.stop().catch(() => {});
    process.exit(code);
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => void stop(0));
  onAncestorsGone(() => void stop(0));
  // Last resort (an exception during start-up): never leave Deno running on its port.
  process.on("exit", () => { if (child && child.exitCode === null) child.kill("SIGKILL"); });

  if (embedded) {
    pglite = await startPglite(`${dataDir}/pglite`, pglitePort);
    env.DATABASE_URL = pglite.url;
    const shown = relative(process.cwd(), `${dataDir}/pglite`);
    console.log(`[dev] embedded PGlite database in ${shown.startsWith("..") ? `${dataDir}/pglite` : shown}, served on ${pglite.url.replace(/:[^:@]*@/, "@")}`);
  }
  if (!skipSetup) {
    const applied = await prepareDatabase(env.DATABASE_URL);
    console.log(`[dev] database ready (${applied.length} migration(s) applied)`);
  }

  const jwtSecret = env.SUPABASE_JWT_SECRET ?? env.JWT_SECRET;
  const sql = postgres(env.DATABASE_URL, { max: 1, onnotice: () => {} });
  await ensureUser(sql, DEV_USER, "dev@example.com").catch(() => {});
  // Supabase access tokens always name their auth.sessions row (session_id). Without the
  // bootstrap (--no-db-setup on a database lacking auth.sessions) the token simply has none.
  const sessionId = await createSession(sql, DEV_USER, { aal: "aal2", expiresInSeconds: 24 * 3600, userAgent: "npm start" }).catch(() => undefined);
  await sql.end();
  const token = await signDevToken(jwtSecret, {
    sub: DEV_USER, email: "dev@example.com", aal: "aal2", expiresInSeconds: 24 * 3600, sessionId,
  });
  const anonKey = await signAnonKey(jwtSecret);

  // No network in development: a local stand-in answers the Graph API (number ownership proof,
  // sends) unless GRAPH_API_BASE_URL names one (e.g. https://graph.facebook.com with real tokens).
  if (!env.GRAPH_API_BASE_URL) {
    devGraph = await startDevGraph((l) => console.log(l));
    env.GRAPH_API_BASE_URL = devGraph.url;
    console.log(`[dev] Graph API stand-in at ${devGraph.url} (set GRAPH_API_BASE_URL to use the real one)`);
  }
  child = startDenoServer(env, "pipe");
  child.stdout!.pipe(process.stdout);
  child.stderr!.pipe(process.stderr);
  child.on("exit", (code, signal) => {
    if (stopping) return;
    console.error(`[dev] the function server stopped (${signal ?? `exit code ${code}`}); stopping`);
    void stop(code || 1);
  });
  const base = `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`;
  await waitForHttp(`${base}/functions/v1/`, 60_000, child);
  // Scheduled functions, called over HTTP as a platform scheduler would (docs/deploy.md).
  const jobs = devSchedule(env);
  if (env.CRON_SECRET) stopCron = startDevCron(`${base}/functions/v1`, env.CRON_SECRET, jobs, (l) => console.log(l));

  const envFile = devEnvFile(dataDir);
  writeSourceableEnv(envFile, `Written by \`npm start\` (pid ${process.pid}) for \`source\`: the values of the running server.\nTOKEN: user ${DEV_USER}, aal2, valid 24 h. ANON_KEY: the local anon key for supabase-js.`, {
    API_URL: base,
    BASE: `${base}/functions/v1`,
    TOKEN: token,
    ANON_KEY: anonKey,
    WHATSAPP_VERIFY_TOKEN: env.WHATSAPP_VERIFY_TOKEN,
    WHATSAPP_APP_SECRET: (env.WHATSAPP_APP_SECRET ?? "").split(",")[0].trim(),
    CRON_SECRET: env.CRON_SECRET,
  });

  console.log(`
[dev] functions at ${base}/functions/v1/<name>
[dev] development token (user ${DEV_USER}, aal2, valid 24 h${sessionId ? `, session ${sessionId}` : ""}):
${token}

[dev] ${envFile} holds TOKEN, BASE, API_URL, ANON_KEY, WHATSAPP_VERIFY_TOKEN and WHATSAPP_APP_SECRET. In another shell:

  source ${envFile}
  curl -s -X POST "$BASE/manage-user-secrets?action=save" -H "Authorization: Bearer $TOKEN" \\
       -H 'content-type: application/json' -d '{"serviceName":"openai_api_key_encrypted","value":"sk-test"}'
  curl -s "$BASE/manage-user-secrets?action=list" -H "Authorization: Bearer $TOKEN"
  curl -s -X POST "$BASE/distributors" -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"name":"Acme"}'
  curl -s "$BASE/distributors" -H "Authorization: Bearer $TOKEN"
  curl -s "$BASE/webhook-whatsapp?hub.mode=subscribe&hub.verify_token=$WHATSAPP_VERIFY_TOKEN&hub.challenge=ok"
  BODY='{"object":"whatsapp_business_account","entry":[]}'
  SIG=$(printf '%s' "$BODY" | openssl dgst -sha256 -hmac "$WHATSAPP_APP_SECRET" | sed 's/^.*= //')
  curl -s -X POST "$BASE/webhook-whatsapp" -H "X-Hub-Signature-256: sha256=$SIG" -H 'content-type: application/json' -d "$BODY"

[dev] scheduled: ${jobs.map((j) => `${j.name} every ${j.everyMs / 1000} s`).join(", ")} (CRON_SECRET in .env.local)
[dev] supabase-js examples: npx tsx examples/<function>.ts   (Ctrl-C stops everything)
`);
}

main().catch((err) => {
  if (err instanceof StartError || err instanceof LockHeld) console.error(`[dev] ${err.message}`);
  else console.error(`[dev] start-up failed: ${(err as Error).message}`);
  process.exit(1);
});
