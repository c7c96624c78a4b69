// Sessions: sensitive actions (secret reads, MFA-gated admin actions, exports) refuse a token
// whose session_id names a session that no longer exists (signed out, revoked); ordinary reads
// accept it until it expires; a token without session_id is judged by signature and expiry.
import { describe, expect } from "vitest";
import type postgres from "postgres";
import { createApp as secretsApp } from "../functions/manage-user-secrets/app.ts";
import { createApp as distributorsApp } from "../functions/distributors/app.ts";
import { createSession, ensureUser, signDevToken } from "../scripts/lib/dev-tokens.ts";
import { test as base } from "./support/fixtures.ts";
import { bearer, TEST_JWT_SECRET } from "./support/harness.ts";

const test = base
  .extend("secrets", { scope: "file" }, async ({ deps }) => secretsApp(deps))
  .extend("distributors", { scope: "file" }, async ({ deps }) => distributorsApp(deps));

const SECRETS = "http://localhost/functions/v1/manage-user-secrets";
const DISTRIBUTORS = "http://localhost/functions/v1/distributors";

async function signedIn(sql: postgres.Sql, userId: string, aal: "aal1" | "aal2" = "aal1") {
  const sessionId = await createSession(sql, userId, { aal });
  return { sessionId, token: await signDevToken(TEST_JWT_SECRET, { sub: userId, sessionId, aal }) };
}
const signOut = (sql: postgres.Sql, sessionId: string) => sql`delete from auth.sessions where id = ${sessionId}`;

describe("secret reads", () => {
  test("a signed-out session cannot read a secret (401), still lists metadata until the token expires", async ({ sql, secrets }) => {
    const id = crypto.randomUUID();
    await ensureUser(sql, id, `${id.slice(0, 8)}@example.test`);
    const s = await signedIn(sql, id);
    const save = await secrets.request(`${SECRETS}?action=save`, {
      method: "POST", headers: bearer(s.token, { "content-type": "application/json" }),
      body: JSON.stringify({ serviceName: "openai_api_key_encrypted", value: "sk-session" }),
    });
    expect(save.status).toBe(200);
    const get = () => secrets.request(`${SECRETS}?action=get&serviceName=openai_api_key_encrypted`, { headers: bearer(s.token) });
    expect(await (await get()).json()).toEqual({ value: "sk-session" });

    await signOut(sql, s.sessionId);
    const refused = await get();
    expect(refused.status).toBe(401);
    expect((await refused.json()).error).toBe("Authentication required");
    const list = await secrets.request(`${SECRETS}?action=list`, { headers: bearer(s.token) });
    expect(list.status).toBe(200);
    expect((await list.json()).secrets).toHaveLength(1);
    // Audited: the read, the refused read, the list.
    const rows = await sql`select operation, success, error_message from public.secret_audit_logs where user_id = ${id} order by created_at`;
    expect(rows.map((r) => [r.operation, r.success, r.error_message])).toEqual([
      ["create", true, null], ["read", true, null], ["read", false, "Authentication required"], ["read", true, null],
    ]);
  });

  test("an expired session row is as good as gone", async ({ sql, secrets }) => {
    const id = crypto.randomUUID();
    await ensureUser(sql, id, `${id.slice(0, 8)}@example.test`);
    const sessionId = await createSession(sql, id, { expiresInSeconds: -60 });
    const token = await signDevToken(TEST_JWT_SECRET, { sub: id, sessionId });
    await secrets.request(`${SECRETS}?action=save`, {
      method: "POST", headers: bearer(token, { "content-type": "application/json" }),
      body: JSON.stringify({ serviceName: "openai_api_key_encrypted", value: "sk-x" }),
    });
    const res = await secrets.request(`${SECRETS}?action=get&serviceName=openai_api_key_encrypted`, { headers: bearer(token) });
    expect(res.status).toBe(401);
  });

  test("a token without session_id (minted by the backend) is judged by signature and expiry alone", async ({ sql, secrets }) => {
    const id = crypto.randomUUID();
    await ensureUser(sql, id, `${id.slice(0, 8)}@example.test`);
    const token = await signDevToken(TEST_JWT_SECRET, { sub: id });
    await secrets.request(`${SECRETS}?action=save`, {
      method: "POST", headers: bearer(token, { "content-type": "application/json" }),
      body: JSON.stringify({ serviceName: "openai_api_key_encrypted", value: "sk-y" }),
    });
    const res = await secrets.request(`${SECRETS}?action=get&serviceName=openai_api_key_encrypted`, { headers: bearer(token) });
    expect(await res.json()).toEqual({ value: "sk-y" });
  });
});

describe("MFA-gated admin actions", () => {
  test("key rotation refuses a signed-out aal2 session (401); listing members still works", async ({ sql, distributors, tenant }) => {
    const t = tenant;
    const s = await signedIn(sql, tenant.users.OWNER.id, "aal2");
    const rotate = () => distributors.request(`${DISTRIBUTORS}/${t.id}/rotate-key`, { method: "POST", headers: bearer(s.token) });
    expect((await rotate()).status).toBe(200);
    await signOut(sql, s.sessionId);
    const refused = await rotate();
    expect(refused.status).toBe(401);
    const [{ n }] = await sql`select count(*)::int as n from public.encryption_keys where distributor_id = ${t.id} and purpose = 'data'`;
    expect(n).toBe(2); // the first rotation only
    const members = await distributors.request(`${DISTRIBUTORS}/${t.id}/members`, { headers: bearer(s.token) });
    expect(members.status).toBe(200);
  });
});
