// `npm start`: embedded PGlite (or DATABASE_URL), migrations, dev secrets, then every function
// served by Deno at http://127.0.0.1:<PORT>/functions/v1/<name>.
//   --no-db-setup (or DB_SETUP=false): do not bootstrap/migrate DATABASE_URL (a real Supabase
//   database, whose migrations the Supabase CLI applies).
import { mkdirSync } from "node:fs";
import postgres from "postgres";
import { prepareDatabase } from "./db/migrate.ts";
import { startPglite, type DatabaseServer } from "./db/server.ts";
import { ensureDevSecrets, loadLocalEnv } from "./lib/env.ts";
import { root, startDenoServer, waitForHttp } from "./lib/deno.ts";
import { createSession, ensureUser, signDevToken } from "./lib/dev-tokens.ts";
import { loadConfig } from "../shared/config/index.ts";

const DEV_USER = "00000000-0000-4000-8000-000000000001";

async function main() {
  const env = loadLocalEnv();
  const generated = ensureDevSecrets(env);
  if (generated.length) console.log(`[dev] generated ${generated.join(", ")} into .env.local`);
  env.PORT ??= "54321";
  env.CORS_ALLOWED_ORIGINS ??= "http://localhost:3000,http://localhost:5173";
  const skipSetup = process.argv.includes("--no-db-setup") || env.DB_SETUP === "false";

  let pglite: DatabaseServer | null = null;
  if (!env.DATABASE_URL) {
    mkdirSync(`${root}.data`, { recursive: true });
    pglite = await startPglite(`${root}.data/pglite`, Number(env.PGLITE_PORT ?? 54322));
    env.DATABASE_URL = pglite.url;
    env.DB_POOL_MAX = "1"; // see startPglite
    console.log(`[dev] embedded PGlite database in .data/pglite, served on ${pglite.url.replace(/:[^:@]*@/, "@")}`);
  }
  try {
    loadConfig(env); // fail fast, naming the variable
  } catch (err) {
    console.error(`[dev] ${(err as Error).message}`);
    process.exit(1);
  }
  if (!skipSetup) {
    const applied = await prepareDatabase(env.DATABASE_URL);
    console.log(`[dev] database ready (${applied.length} migration(s) applied)`);
  }

  const sql = postgres(env.DATABASE_URL, { max: 1, onnotice: () => {} });
  await ensureUser(sql, DEV_USER, "dev@example.com").catch(() => {});
  // Supabase access tokens always name their auth.sessions row (session_id).
  const sessionId = await createSession(sql, DEV_USER, { aal: "aal2", expiresInSeconds: 24 * 3600, userAgent: "npm start" }).catch(() => undefined);
  await sql.end();
  const token = await signDevToken(env.SUPABASE_JWT_SECRET ?? env.JWT_SECRET, {
    sub: DEV_USER, email: "dev@example.com", aal: "aal2", expiresInSeconds: 24 * 3600, sessionId,
  });

  const child = startDenoServer(env);
  const base = `http://127.0.0.1:${env.PORT}`;
  const stop = async (code = 0) => {
    child.kill("SIGTERM");
    await pglite?.stop().catch(() => {});
    process.exit(code);
  };
  process.on("SIGINT", () => void stop());
  process.on("SIGTERM", () => void stop());
  child.on("exit", (code) => void stop(code ?? 1));
  await waitForHttp(`${base}/functions/v1/`, 60_000, child);
  console.log(`
[dev] functions at ${base}/functions/v1/<name>
[dev] development token (user ${DEV_USER}, aal2, valid 24 h):
${token}

  curl -s '${base}/functions/v1/manage-user-secrets?action=list' -H "Authorization: Bearer ${token.slice(0, 16)}…"
  TOKEN=${token}
  curl -s -X POST '${base}/functions/v1/manage-user-secrets?action=save' -H "Authorization: Bearer $TOKEN" \\
       -H 'content-type: application/json' -d '{"serviceName":"openai_api_key_encrypted","value":"sk-..."}'
`);
}

main().catch((err) => {
  console.error(`[dev] start-up failed: ${(err as Error).message}`);
  process.exit(1);
});
