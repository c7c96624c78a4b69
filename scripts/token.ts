// npm run token -- --sub <uuid> [--email x] [--role authenticated|service_role] [--admin] [--aal2] [--hours N]
// Prints a signed development JWT and makes sure the user exists in the configured database.
import { parseArgs } from "node:util";
import postgres from "postgres";
import { ensureUser, signDevToken } from "./lib/dev-tokens.ts";
import { ensureDevSecrets, loadLocalEnv } from "./lib/env.ts";

const { values } = parseArgs({
  options: {
    sub: { type: "string" }, email: { type: "string" }, role: { type: "string", default: "authenticated" },
    admin: { type: "boolean", default: false }, aal2: { type: "boolean", default: false }, hours: { type: "string", default: "24" },
  },
});
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
if (!values.sub || !UUID.test(values.sub)) {
  console.error("usage: npm run token -- --sub <uuid> [--email ..] [--role authenticated|service_role] [--admin] [--aal2] [--hours N]");
  process.exit(2);
}
if (!["authenticated", "service_role"].includes(values.role!)) {
  console.error("--role must be authenticated or service_role");
  process.exit(2);
}

const env = loadLocalEnv();
ensureDevSecrets(env);
const token = await signDevToken(env.SUPABASE_JWT_SECRET ?? env.JWT_SECRET, {
  sub: values.sub, email: values.email, role: values.role, admin: values.admin,
  aal: values.aal2 ? "aal2" : "aal1", expiresInSeconds: Number(values.hours) * 3600,
});

// The configured database, else the embedded one served by a running `npm start`.
const url = env.DATABASE_URL ?? `postgres://postgres:postgres@127.0.0.1:${env.PGLITE_PORT ?? 54322}/postgres`;
const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 3 });
try {
  await ensureUser(sql, values.sub, values.email);
} catch {
  if (env.DATABASE_URL) {
    console.error("could not reach DATABASE_URL to create the user");
    process.exit(1);
  }
  // No server running: open the embedded database directly.
  const { PGlite } = await import("@electric-sql/pglite");
  const db = await PGlite.create({ dataDir: new URL("../.data/pglite", import.meta.url).pathname });
  await db.query("insert into auth.users (id, email) values ($1, $2) on conflict (id) do nothing", [values.sub, values.email ?? null])
    .catch(() => console.error("note: the embedded database is not initialised yet; run `npm start` once"));
  await db.close();
} finally {
  await sql.end({ timeout: 1 });
}
console.log(token);
