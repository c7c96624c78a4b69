// privacy POST /me/export and POST /me/erase: a social-app user's own data. OAuth connections are
// made through the real oauth-callback app against the fake authorization servers (revocation
// recorded there); the erasure test then searches every column of every table, and a pg_dump,
// for the user's id (outside the audit tables and privacy_requests) and their ciphertexts.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, expect, inject } from "vitest";
import type postgres from "postgres";
import { createApp } from "../../functions/privacy/app.ts";
import { createApp as createOAuth } from "../../functions/oauth-callback/app.ts";
import { createLogger } from "../../shared/log/index.ts";
import { test as fixtures } from "../support/fixtures.ts";
import { bearer, testDeps } from "../support/harness.ts";
import { authenticationCases, expectError } from "../support/security.ts";
import { userWithMfa, type TestUser } from "../support/tenancy.ts";
import { connect, postJson, start } from "../oauth/support/flow.ts";
import { startOAuthWorld } from "../oauth/support/world.ts";

const logLines: string[] = [];
const base = "http://x/functions/v1/privacy";

const test = fixtures
  /** The fake authorization servers. */
  .extend("world", { scope: "file" }, async ({}, { onCleanup }) => {
    const world = await startOAuthWorld();
    onCleanup(() => world.close());
    return world;
  })
  // Deps pointed at the fake authorization servers, logging at debug level into logLines.
  .extend("deps", { scope: "file" }, async ({ world }, { onCleanup }) => {
    const deps = await testDeps(world.env({ LOG_LEVEL: "debug" }), { logger: createLogger("debug", (l) => logLines.push(l)) });
    onCleanup(() => deps.db.end());
    return deps;
  })
  .extend("app", { scope: "file" }, async ({ deps }) => createApp(deps))
  .extend("oauth", { scope: "file" }, async ({ deps }) => createOAuth(deps))
  .extend("post", { scope: "file" }, async ({ app }) => (path: string, headers: Record<string, string>) =>
    Promise.resolve(app.request(`${base}${path}`, { method: "POST", headers })))
  .extend("socialUser", { scope: "file" }, async ({ sql, oauth }) => socialUser(sql, oauth));

// authenticationCases registers plain `it`s: they reach the file's fixtures through this hook.
let post: (path: string, headers: Record<string, string>) => Promise<Response>;
test.beforeAll(({ post: p }) => {
  post = p;
});

/** A user with: twitter (revocable), hootsuite (revocation fails), buffer (no revocation) connected; linkedin disconnected
 * (a soft-deleted secret); a started flow (oauth state); a post; a user-level AI row; an AI row of a distributor it is not. */
const socialUser = (sql: postgres.Sql, oauth: ReturnType<typeof createOAuth>) => async (canary: string): Promise<TestUser> => {
  const u = await userWithMfa(sql);
  for (const p of ["twitter", "hootsuite", "buffer", "linkedin"] as const) expect((await connect(oauth, u.token, p)).status).toBe(302);
  expect((await postJson(oauth, "/disconnect", u.token, { platform: "linkedin" })).status).toBe(200);
  await start(oauth, u.token, "youtube");
  await sql`insert into public.social_posts (user_id, platform, profile_ids, platform_post_id, status)
            values (${u.id}, 'buffer', ${[`profile-${canary}`]}, ${`post-${canary}`}, 'published')`;
  await sql`insert into public.ai_responses (user_id, route, status, response_encrypted, response_iv, key_version)
            values (${u.id}, 'generate', 'ok', ${`ct-${canary}`}, 'iv', 1)`;
  await sql`insert into public.support_tickets (user_id, content_encrypted, content_iv, key_version)
            values (${u.id}, ${`ticket-${canary}`}, 'iv', 1)`;
  return u;
};

describe("POST /me/export", () => {
  authenticationCases("POST /me/export", (h) => post("/me/export", h));

  test("returns the caller's secrets metadata (never values), connections, posts, AI rows and audit rows; recorded and audited", async ({ sql, post, socialUser }) => {
    const canary = `exp${crypto.randomUUID().slice(0, 8)}`;
    const u = await socialUser(canary);
    const other = await socialUser(`other${canary}`);
    const res = await post("/me/export", bearer(u.token));
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const text = await res.text();
    const body = JSON.parse(text);
    expect(body.user_id).toBe(u.id);
    expect(body.secrets.map((s: { service_name: string }) => s.service_name).sort()).toEqual(
      ["buffer_oauth_token", "hootsuite_oauth_token", "linkedin_oauth_token", "twitter_oauth_token"]);
    expect(body.secrets.find((s: { service_name: string }) => s.service_name === "linkedin_oauth_token").is_active).toBe(false);
    for (const s of body.secrets) expect(Object.keys(s).sort()).toEqual(["created_at", "is_active", "last_used_at", "metadata", "service_name", "updated_at"]);
    const stored = await sql`select encrypted_value, initialization_vector from public.user_secrets where user_id = ${u.id}`;
    for (const s of stored) {
      expect(text).not.toContain(s.encrypted_value);
      expect(text).not.toContain(s.initialization_vector);
    }
    expect(body.oauth_connections.map((c: { platform: string }) => c.platform).sort()).toEqual(["buffer", "hootsuite", "twitter"]);
    expect(body.social_posts).toHaveLength(1);
    expect(body.social_posts[0]).toMatchObject({ platform_post_id: `post-${canary}`, platform: "buffer" });
    expect(body.ai_responses).toHaveLength(1);
    expect(body.ai_responses[0]).not.toHaveProperty("response_encrypted");
    expect(text).not.toContain(`ct-${canary}`);
    expect(body.audit.secret_audit_logs.length).toBeGreaterThanOrEqual(5); // 4 creates, a read and a delete
    expect(body.audit.truncated).toBe(false);
    expect(text).not.toContain(other.id); // nobody else's rows

    const [req] = await sql`select type, status, subject_user_id, requested_by, counts from public.privacy_requests where id = ${body.request_id}`;
    expect(req).toMatchObject({ type: "export", status: "completed", subject_user_id: u.id, requested_by: u.id });
    expect(req.counts).toMatchObject({ user_secrets: 4, oauth_connections: 3, social_posts: 1, ai_responses: 1, support_tickets: 1 });
    expect(body.support_tickets).toHaveLength(1);
    expect(text).not.toContain(`ticket-${canary}`);
    const audit = await sql`select details from public.data_access_audit where user_id = ${u.id} and action = 'privacy.me_export'`;
    expect(audit).toHaveLength(1);
    expect(audit[0].details).toMatchObject({ request_id: body.request_id });
    // The next export lists that audited read.
    const again = await (await post("/me/export", bearer(u.token))).json();
    expect(again.audit.data_access_audit.some((r: { action: string }) => r.action === "privacy.me_export")).toBe(true);
  });
});

/** pg_dump --data-only when the binary and a real server are there; else every row of every table as text. */
async function dumpDatabase(sql: postgres.Sql): Promise<string> {
  const pgDump = "/usr/lib/postgresql/15/bin/pg_dump";
  if (existsSync(pgDump) && inject("databaseKind") !== "pglite") {
    return execFileSync(pgDump, ["--data-only", "--no-owner", "--dbname", inject("databaseUrl")], { encoding: "utf8", maxBuffer: 1 << 30 });
  }
  return (await everyRow(sql)).map((r) => r.row).join("\n");
}

async function everyRow(sql: postgres.Sql): Promise<{ table: string; row: string }[]> {
  const tables = await sql`select table_schema, table_name from information_schema.tables
                           where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')`;
  const out: { table: string; row: string }[] = [];
  for (const t of tables) {
    const rows = await sql`select t::text as r from ${sql(t.table_schema)}.${sql(t.table_name)} t`;
    for (const r of rows) out.push({ table: `${t.table_schema}.${t.table_name}`, row: r.r });
  }
  return out;
}

/** Where a user's id may stay after /me/erase: the audit trail, the request record, Supabase Auth's own tables. */
const KEPT = new Set(["public.data_access_audit", "public.secret_audit_logs", "public.security_incidents", "public.privacy_requests"]);
const kept = (table: string) => KEPT.has(table) || table.startsWith("auth.");

describe("POST /me/erase", () => {
  authenticationCases("POST /me/erase", (h) => post("/me/erase", h));

  test("needs aal2: an aal1 token is 403 and nothing is deleted or revoked", async ({ sql, world, post, socialUser }) => {
    const u = await socialUser(`aal${crypto.randomUUID().slice(0, 8)}`);
    const revocations = world.basic.revoked.length + world.body.revoked.length;
    await expectError(await post("/me/erase", bearer(u.token)), 403, "Multi-factor authentication required");
    const [n] = await sql`select count(*)::int as n from public.user_secrets where user_id = ${u.id}`;
    expect(n.n).toBe(4);
    expect(world.basic.revoked.length + world.body.revoked.length).toBe(revocations);
    const [r] = await sql`select count(*)::int as n from public.privacy_requests where subject_user_id = ${u.id}`;
    expect(r.n).toBe(0);
  });

  test("revokes the tokens at the providers (a failure logged, not fatal), deletes everything of theirs, leaves no trace", async ({ sql, world, post, socialUser }) => {
    const canary = `era${crypto.randomUUID().slice(0, 8)}`;
    const u = await socialUser(canary);
    const other = await socialUser(`keep${canary}`);
    const [twitter] = await sql`select 1 from public.user_secrets where user_id = ${u.id} and service_name = 'twitter_oauth_token'`;
    expect(twitter).toBeDefined();
    const ciphertexts = (await sql`select encrypted_value from public.user_secrets where user_id = ${u.id}`).map((r) => r.encrypted_value as string);
    const stateHashes = (await sql`select state_hash from public.oauth_states where user_id = ${u.id}`).map((r) => r.state_hash as string);
    expect(stateHashes.length).toBeGreaterThan(0);
    await post("/me/export", bearer(u.token)); // an export, then the erasure
    const revokedBefore = world.basic.revoked.length + world.body.revoked.length;
    world.serverOf("hootsuite").failNextRevoke({ status: 503, body: "down" });

    const res = await post("/me/erase", bearer(u.mfaToken));
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ user_id: u.id, status: "completed" });
    expect(body.tokens.revoked).toEqual(["twitter"]);
    expect(body.tokens.not_revoked.sort()).toEqual(["buffer", "hootsuite"]);
    expect(world.basic.revoked.length + world.body.revoked.length).toBe(revokedBefore + 1);
    expect(logLines.some((l) => l.includes('"privacy.revoke_failed"') && l.includes('"platform":"hootsuite"'))).toBe(true);
    expect(body.counts).toMatchObject({ user_secrets: 4, oauth_connections: 3, social_posts: 1, ai_responses: 1, support_tickets: 1 });
    expect(body.counts.oauth_states).toBeGreaterThanOrEqual(1);
    expect(body.counts.rate_limits).toBeGreaterThanOrEqual(1);

    const [req] = await sql`select type, status, counts, details from public.privacy_requests where id = ${body.request_id}`;
    expect(req).toMatchObject({ type: "erase", status: "completed" });
    expect(req.details).toMatchObject({ tokens_revoked: ["twitter"] });
    const deletes = await sql`select service_name from public.secret_audit_logs where user_id = ${u.id} and operation = 'delete' order by service_name`;
    expect(deletes.map((r) => r.service_name)).toEqual(expect.arrayContaining(["buffer_oauth_token", "hootsuite_oauth_token", "twitter_oauth_token"]));

    const rows = await everyRow(sql);
    for (const { table, row } of rows) {
      if (!kept(table)) expect(row.includes(u.id), `${table} still holds the user's id: ${row.slice(0, 300)}`).toBe(false);
    }
    const needles = [...ciphertexts, ...stateHashes, `post-${canary}`, `profile-${canary}`, `ct-${canary}`, `ticket-${canary}`];
    for (const { table, row } of rows) for (const n of needles) expect(row.includes(n), `${table} still holds ${n}`).toBe(false);
    const dump = await dumpDatabase(sql);
    expect(dump).toContain(other.id); // the dump is real
    for (const n of needles) expect(dump.includes(n), `dump holds ${n}`).toBe(false);
    // The audit trail records the erasure with ids and counts only.
    const [audit] = await sql`select details from public.data_access_audit where user_id = ${u.id} and action = 'privacy.me_erase'`;
    expect(audit.details).toMatchObject({ request_id: body.request_id });
    // The other user is untouched.
    const [still] = await sql`select count(*)::int as n from public.user_secrets where user_id = ${other.id}`;
    expect(still.n).toBe(4);
    // A second erasure finds nothing left (and still records the request).
    const second = await (await post("/me/erase", bearer(u.mfaToken))).json();
    expect(second.counts).toEqual({});
  }, 60_000);
});
