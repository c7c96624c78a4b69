// npm run token -- --sub <uuid> [--email x] [--role authenticated|service_role] [--admin] [--aal2] [--hours N] [--no-session]
// Prints a signed development JWT and makes sure the user exists in the configured database.
// Like a Supabase sign-in, it also creates an auth.sessions row and puts its id in the token as
// `session_id` (every Supabase access token has one); --no-session leaves both out.
import { parseArgs } from "node:util";
import postgres from "postgres";
import { createSession, ensureUser, signDevToken } from "./lib/dev-tokens.ts";
import { ensureDevSecrets, loadLocalEnv } from "./lib/env.ts";

const USAGE = "usage: npm run token -- --sub <uuid> [--email ..] [--role authenticated|service_role] [--admin] [--aal2] [--hours N] [--no-session]";
const { values } = parseArgs({
  options: {
    sub: { type: "string" }, email: { type: "string" }, role: { type: "string", default: "authenticated" },
    admin: { type: "boolean", default: false }, aal2: { type: "boolean", default: false }, hours: { type: "string", default: "24" },
    "no-session": { type: "boolean", default: false },
  },
});
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
if (!values.sub || !UUID.test(values.sub)) {
  console.error(USAGE);
  process.exit(2);
}
if (!["authenticated", "service_role"].includes(values.role!)) {
  console.error("--role must be authenticated or service_role");
  process.exit(2);
}
const hours = Number(values.hours);
if (!Number.isFinite(hours) || hours <= 0) {
  console.error("--hours must be a positive number");
  process.exit(2);
}

const env = loadLocalEnv();
ensureDevSecrets(env);
const sub = values.sub;
const aal = values.aal2 ? "aal2" : "aal1";
const expiresInSeconds = Math.round(hours * 3600);
const wantSession = !values["no-session"];

// The configured database, else the embedded one served by a running `npm start`.
const url = env.DATABASE_URL ?? `postgres://postgres:postgres@127.0.0.1:${env.PGLITE_PORT ?? 54322}/postgres`;
const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 3 });
let sessionId: string | undefined;
try {
  await ensureUser(sql, sub, values.email);
  if (wantSession) sessionId = await createSession(sql, sub, { aal, expiresInSeconds, userAgent: "npm run token" });
} catch (err) {
  if (env.DATABASE_URL) {
    console.error(`could not create the user/session through DATABASE_URL: ${(err as Error).message}`);
    process.exit(1);
  }
  // No server running: open the embedded database directly.
  const { PGlite } = await import("@electric-sql/pglite");
  const db = await PGlite.create({ dataDir: new URL("../.data/pglite", import.meta.url).pathname });
  try {
    await db.query("insert into auth.users (id, email) values ($1, $2) on conflict (id) do nothing", [sub, values.email ?? null]);
    if (wantSession) {
      const id = crypto.randomUUID();
      await db.query(
        "insert into auth.sessions (id, user_id, created_at, updated_at, aal, not_after, user_agent) values ($1, $2, now(), now(), $3, now() + make_interval(secs => $4), 'npm run token')",
        [id, sub, aal, expiresInSeconds],
      );
      sessionId = id;
    }
  } catch {
    console.error("note: the embedded database is not initialised yet; run `npm start` once");
  }
  await db.close();
} finally {
  await sql.end({ timeout: 1 });
}
const token = await signDevToken(env.SUPABASE_JWT_SECRET ?? env.JWT_SECRET, {
  sub, email: values.email, role: values.role, admin: values.admin, aal, expiresInSeconds, sessionId,
});
console.log(token);
