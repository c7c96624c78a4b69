import { describe, expect } from "vitest";
import { createApp } from "../functions/manage-user-secrets/app.ts";
import { seal, createKeyring } from "../shared/crypto/index.ts";
import { getUserSecret, hasUserSecret } from "../shared/secrets/index.ts";
import { test as fixtures } from "./support/fixtures.ts";
import { ALLOWED_ORIGIN, bearer, newUser, testDeps } from "./support/harness.ts";
import { authenticationCases } from "./support/security.ts";

const BASE = "http://localhost/functions/v1/manage-user-secrets";
type App = ReturnType<typeof createApp>;

const test = fixtures
  // Deps with a limit no contract test reaches.
  .extend("deps", { scope: "file" }, async ({}, { onCleanup }) => {
    const deps = await testDeps({ SECRETS_RATE_LIMIT_PER_MINUTE: "1000" });
    onCleanup(() => deps.db.end());
    return deps;
  })
  .extend("app", { scope: "file" }, async ({ deps }) => createApp(deps))
  .extend("get", { scope: "file" }, async ({ app }) => (token: string, query: string, headers: Record<string, string> = {}) =>
    Promise.resolve(app.request(`${BASE}?${query}`, { headers: bearer(token, headers) })))
  .extend("post", { scope: "file" }, async ({ app }) => (token: string, action: string, body: unknown, headers: Record<string, string> = {}) =>
    Promise.resolve(app.request(`${BASE}?action=${action}`, {
      method: "POST",
      headers: bearer(token, { "content-type": "application/json", ...headers }),
      body: typeof body === "string" ? body : JSON.stringify(body),
    })))
  .extend("auditRows", { scope: "file" }, async ({ sql }) => async (userId: string) =>
    await sql`select service_name, operation, success, error_message, host(ip_address) as ip, user_agent
              from public.secret_audit_logs where user_id = ${userId} order by created_at, id`);

// authenticationCases registers plain `it`s: they reach the file's fixtures through this hook.
let app: App;
test.beforeAll(({ app: a }) => {
  app = a;
});

describe("manage-user-secrets contract", () => {
  test("list: every active secret's metadata, ordered, timestamps as ISO strings; has: audited reads", async ({ sql, get, post, auditRows }) => {
    const u = await newUser(sql);
    for (const serviceName of ["openai_api_key_encrypted", "anthropic_api_key_encrypted", "gemini_api_key_encrypted"]) {
      expect((await post(u.token, "save", { serviceName, value: `key-for-${serviceName}` })).status).toBe(200);
    }
    expect((await post(u.token, "delete", { serviceName: "gemini_api_key_encrypted" })).status).toBe(200);
    expect((await get(u.token, "action=get&serviceName=openai_api_key_encrypted")).status).toBe(200); // sets last_used_at
    await sql`update public.user_secrets set metadata = ${sql.json({ label: "work", n: 2 })}
              where user_id = ${u.id} and service_name = 'anthropic_api_key_encrypted'`;
    const stored = await sql<{ service_name: string; created_at: Date; updated_at: Date; last_used_at: Date | null; metadata: unknown }[]>`
      select service_name, created_at, updated_at, last_used_at, metadata from public.user_secrets
      where user_id = ${u.id} and is_active order by service_name`;
    const res = await get(u.token, "action=list");
    expect(res.status).toBe(200);
    expect(res.headers.get("RateLimit-Limit")).toBe("1000");
    expect(await res.json()).toEqual({
      secrets: stored.map((r) => ({
        service_name: r.service_name,
        created_at: r.created_at.toISOString(),
        updated_at: r.updated_at.toISOString(),
        last_used_at: r.last_used_at?.toISOString() ?? null,
        is_active: true,
        metadata: r.metadata,
      })),
    });
    expect(stored.map((r) => r.service_name)).toEqual(["anthropic_api_key_encrypted", "openai_api_key_encrypted"]);
    expect(stored[1].last_used_at).not.toBeNull();

    const has = await get(u.token, "action=has&serviceName=gemini_api_key_encrypted");
    expect(has.status).toBe(200);
    expect(has.headers.get("RateLimit-Remaining")).not.toBeNull();
    expect(await has.json()).toEqual({ exists: false }); // soft-deleted
    const reads = (await auditRows(u.id)).filter((r) => r.operation === "read");
    expect(reads.slice(-2)).toEqual([
      { service_name: null, operation: "read", success: true, error_message: null, ip: null, user_agent: null },
      { service_name: "gemini_api_key_encrypted", operation: "read", success: true, error_message: null, ip: null, user_agent: null },
    ]);
  });

  test("save → list → get → has → delete → re-save", async ({ sql, get, post, auditRows }) => {
    const u = await newUser(sql);
    const headers = { "x-forwarded-for": "6.6.6.6, 203.0.113.7", "user-agent": "vitest-agent" }; // the client wrote 6.6.6.6; the platform appended 203.0.113.7
    let res = await post(u.token, "save", { serviceName: "openai_api_key_encrypted", value: "sk-test-123" }, headers);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true });
    expect(res.headers.get("RateLimit-Limit")).toBe("1000");

    res = await get(u.token, "action=list");
    expect(res.status).toBe(200);
    const list = await res.json();
    expect(list.secrets).toHaveLength(1);
    expect(list.secrets[0]).toMatchObject({ service_name: "openai_api_key_encrypted", is_active: true, last_used_at: null, metadata: {} });
    expect(Object.keys(list.secrets[0]).sort()).toEqual(["created_at", "is_active", "last_used_at", "metadata", "service_name", "updated_at"]);
    expect(JSON.stringify(list)).not.toContain("sk-test-123");

    res = await get(u.token, "action=get&serviceName=openai_api_key_encrypted");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ value: "sk-test-123" });
    const [stored] = await sql`select encrypted_value, initialization_vector, key_version, aad_bound, last_used_at from public.user_secrets where user_id = ${u.id}`;
    expect(stored.encrypted_value).not.toContain("sk-test");
    expect(stored.aad_bound).toBe(true);
    expect(stored.key_version).toBe(1);
    expect(stored.last_used_at).not.toBeNull();

    expect(await (await get(u.token, "action=has&serviceName=openai_api_key_encrypted")).json()).toEqual({ exists: true });
    expect(await (await get(u.token, "action=has&serviceName=gemini_api_key_encrypted")).json()).toEqual({ exists: false });

    res = await post(u.token, "delete", { serviceName: "openai_api_key_encrypted" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true });
    const [soft] = await sql`select is_active from public.user_secrets where user_id = ${u.id}`;
    expect(soft.is_active).toBe(false); // soft delete keeps the row
    expect((await (await get(u.token, "action=list")).json()).secrets).toEqual([]);
    res = await get(u.token, "action=get&serviceName=openai_api_key_encrypted");
    expect(res.status).toBe(404);
    expect((await res.json()).error).toBe("Secret not found");
    expect(await (await get(u.token, "action=has&serviceName=openai_api_key_encrypted")).json()).toEqual({ exists: false });

    res = await post(u.token, "save", { serviceName: "openai_api_key_encrypted", value: "sk-second" });
    expect(res.status).toBe(200);
    expect(await (await get(u.token, "action=get&serviceName=openai_api_key_encrypted")).json()).toEqual({ value: "sk-second" });
    const [again] = await sql`select count(*)::int as n, bool_and(is_active) as active from public.user_secrets where user_id = ${u.id}`;
    expect(again).toEqual({ n: 1, active: true });

    const audit = await auditRows(u.id);
    expect(audit.map((r) => `${r.operation}:${r.success}`)).toEqual([
      "create:true", "read:true", "read:true", "read:true", "read:true", "delete:true", "read:true", "read:false", "read:true", "update:true", "read:true",
    ]);
    expect(audit[0]).toMatchObject({ ip: "203.0.113.7", user_agent: "vitest-agent", service_name: "openai_api_key_encrypted" });
    expect(audit[7].error_message).toBe("Secret not found");
    for (const row of audit) expect(JSON.stringify(row)).not.toMatch(/sk-(test|second)/);
  });

  test("accepts all 14 seed service names and rejects others with 400 (audited, nothing stored)", async ({ sql, get, post, auditRows }) => {
    const u = await newUser(sql);
    const names = ["gemini_api_key_encrypted", "openai_api_key_encrypted", "anthropic_api_key_encrypted", "mistral_api_key_encrypted",
      "buffer_oauth_token", "hootsuite_oauth_token", "later_oauth_token", "sprout_social_oauth_token", "facebook_oauth_token",
      "instagram_oauth_token", "twitter_oauth_token", "linkedin_oauth_token", "youtube_oauth_token", "tiktok_oauth_token"];
    for (const serviceName of names) expect((await post(u.token, "save", { serviceName, value: "v" })).status).toBe(200);
    const res = await post(u.token, "save", { serviceName: "aws_secret", value: "v" });
    expect(res.status).toBe(400);
    expect((await res.json()).error).toBe("Invalid request");
    expect((await get(u.token, "action=get&serviceName=aws_secret")).status).toBe(400);
    const [{ n }] = await sql`select count(*)::int as n from public.user_secrets where user_id = ${u.id}`;
    expect(n).toBe(14);
    const failures = (await auditRows(u.id)).filter((r) => !r.success);
    // Malformed requests are audited with operation "invalid".
    expect(failures.map((r) => [r.operation, r.service_name, r.error_message])).toEqual([
      ["invalid", null, "Invalid request"], ["invalid", null, "Invalid request"],
    ]);
  });

  test("validates values, actions and bodies with 400 Invalid request", async ({ sql, app, get, post, auditRows }) => {
    const u = await newUser(sql);
    const cases: [string, Response][] = [
      ["empty value", await post(u.token, "save", { serviceName: "openai_api_key_encrypted", value: "" })],
      ["value over 8 KiB", await post(u.token, "save", { serviceName: "openai_api_key_encrypted", value: "x".repeat(8 * 1024 + 1) })],
      ["missing value", await post(u.token, "save", { serviceName: "openai_api_key_encrypted" })],
      ["non-string value", await post(u.token, "save", { serviceName: "openai_api_key_encrypted", value: 42 })],
      ["invalid JSON", await post(u.token, "save", "{not json")],
      ["unknown POST action", await post(u.token, "rotate", { serviceName: "openai_api_key_encrypted" })],
      ["unknown GET action", await get(u.token, "action=dump")],
      ["no action", await get(u.token, "")],
      ["get without serviceName", await get(u.token, "action=get")],
      ["text/plain save", await post(u.token, "save", { serviceName: "openai_api_key_encrypted", value: "v" }, { "content-type": "text/plain" })],
      ["save without content type", await app.request(`${BASE}?action=save`, { method: "POST", headers: bearer(u.token), body: JSON.stringify({ serviceName: "openai_api_key_encrypted", value: "v" }) })],
    ];
    for (const [label, res] of cases) {
      expect(res.status, label).toBe(400);
      expect(await res.json(), label).toMatchObject({ error: "Invalid request" });
    }
    expect((await post(u.token, "save", { serviceName: "openai_api_key_encrypted", value: "x".repeat(8 * 1024) })).status).toBe(200);
    const [{ n }] = await sql`select count(*)::int as n from public.user_secrets where user_id = ${u.id}`;
    expect(n).toBe(1);
    // Every one of them audited, as operation "invalid" (what the docs say).
    const failures = (await auditRows(u.id)).filter((r) => !r.success);
    expect(failures.map((r) => r.operation)).toEqual(Array(cases.length).fill("invalid"));
  });

  test("two users cannot see or touch each other's secrets", async ({ sql, get, post }) => {
    const a = await newUser(sql);
    const b = await newUser(sql);
    await post(a.token, "save", { serviceName: "anthropic_api_key_encrypted", value: "a-secret" });
    expect((await get(b.token, "action=get&serviceName=anthropic_api_key_encrypted")).status).toBe(404);
    expect(await (await get(b.token, "action=has&serviceName=anthropic_api_key_encrypted")).json()).toEqual({ exists: false });
    expect((await (await get(b.token, "action=list")).json()).secrets).toEqual([]);
    expect((await post(b.token, "delete", { serviceName: "anthropic_api_key_encrypted" })).status).toBe(404);
    await post(b.token, "save", { serviceName: "anthropic_api_key_encrypted", value: "b-secret" });
    expect(await (await get(a.token, "action=get&serviceName=anthropic_api_key_encrypted")).json()).toEqual({ value: "a-secret" });
    expect(await (await get(b.token, "action=get&serviceName=anthropic_api_key_encrypted")).json()).toEqual({ value: "b-secret" });
    const [{ n }] = await sql`select count(*)::int as n from public.secret_audit_logs where user_id = ${a.id} and operation <> 'read' and operation <> 'create'`;
    expect(n).toBe(0); // b's attempts were recorded under b, never under a
  });

  test("a ciphertext copied onto another user's row does not decrypt (AAD)", async ({ sql, get, post, auditRows }) => {
    const a = await newUser(sql);
    const b = await newUser(sql);
    await post(a.token, "save", { serviceName: "openai_api_key_encrypted", value: "a-key" });
    await post(b.token, "save", { serviceName: "openai_api_key_encrypted", value: "b-key" });
    await sql`update public.user_secrets t set encrypted_value = s.encrypted_value, initialization_vector = s.initialization_vector
              from public.user_secrets s where s.user_id = ${a.id} and t.user_id = ${b.id}
              and s.service_name = 'openai_api_key_encrypted' and t.service_name = 'openai_api_key_encrypted'`;
    const res = await get(b.token, "action=get&serviceName=openai_api_key_encrypted");
    expect(res.status).toBe(500);
    const body = await res.json();
    expect(body.error).toBe("Internal server error");
    expect(JSON.stringify(body)).not.toContain("a-key");
    const [last] = (await auditRows(b.id)).slice(-1);
    expect(last).toMatchObject({ operation: "read", success: false });
  });

  test("reads rows written by the seed's original function (no AAD)", async ({ sql, get }) => {
    const u = await newUser(sql);
    await sql`insert into public.user_secrets (user_id, service_name, encrypted_value, initialization_vector)
              values (${u.id}, 'openai_api_key_encrypted', '5qm0QlzWdgpFpWmIHVG02vVEwNIdKeTOWqsKRJd4R7+/Im2UsxSPdqV8', 'ChssPU5fYHGCk6S1')`;
    const res = await get(u.token, "action=get&serviceName=openai_api_key_encrypted");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ value: "sk-proj-legacy-Compat-0042" });
  });

  test("keeps reading rows under a previous master key version", async ({ sql, get }) => {
    const u = await newUser(sql);
    const oldRing = await createKeyring({ version: 7, hex: "11".repeat(32) });
    const sealed = await seal(oldRing, "old-version-value", `user_secrets:${u.id}:later_oauth_token`);
    await sql`insert into public.user_secrets (user_id, service_name, encrypted_value, initialization_vector, key_version, aad_bound)
              values (${u.id}, 'later_oauth_token', ${sealed.encryptedValue}, ${sealed.iv}, 7, true)`;
    expect((await get(u.token, "action=get&serviceName=later_oauth_token")).status).toBe(500);
    const rotated = await testDeps({ SECRET_MASTER_KEY_VERSION: "8", SECRET_MASTER_KEY_PREVIOUS: `7:${"11".repeat(32)},1:${"8f1c0d5e2a4b6c7d9e0f112233445566778899aabbccddeeff00112233445566"}` });
    try {
      const res = await createApp(rotated).request(`${BASE}?action=get&serviceName=later_oauth_token`, { headers: bearer(u.token) });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ value: "old-version-value" });
    } finally {
      await rotated.db.end();
    }
  });

  test("rate limits per user at the boundary with 429, Retry-After and RateLimit headers", async ({ sql }) => {
    const limited = await testDeps({ SECRETS_RATE_LIMIT_PER_MINUTE: "5" });
    const limitedApp = createApp(limited);
    try {
      const u = await newUser(sql);
      // One budget per user across actions (get takes the one-statement path, the others withUser).
      const requests = [
        () => limitedApp.request(`${BASE}?action=save`, { method: "POST", headers: bearer(u.token, { "content-type": "application/json" }), body: JSON.stringify({ serviceName: "openai_api_key_encrypted", value: "sk-limited" }) }),
        ...["get", "list", "has", "get", "get"].map((action) => () =>
          limitedApp.request(`${BASE}?action=${action}&serviceName=openai_api_key_encrypted`, { headers: bearer(u.token) })),
      ];
      // Stay inside one window: wait if we are within 3 s of a minute boundary.
      const s = new Date().getSeconds();
      if (s > 56) await new Promise((r) => setTimeout(r, (61 - s) * 1000));
      const statuses: number[] = [];
      let last: Response | undefined;
      for (const [i, request] of requests.entries()) {
        last = await request();
        statuses.push(last.status);
        if (i === 4) expect(last.headers.get("RateLimit-Remaining")).toBe("0");
        if (i === 1) expect(last.headers.get("RateLimit-Remaining")).toBe("3");
      }
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
      expect(last!.headers.get("Retry-After")).toMatch(/^\d+$/);
      expect(Number(last!.headers.get("Retry-After"))).toBeGreaterThan(0);
      expect(last!.headers.get("RateLimit-Limit")).toBe("5");
      expect((await last!.json()).error).toBe("Too many requests");
      // The refused get did nothing: the audited reads are get, has and get only.
      const [{ reads }] = await sql`select count(*)::int as reads from public.secret_audit_logs
        where user_id = ${u.id} and operation = 'read' and service_name = 'openai_api_key_encrypted' and success`;
      expect(reads).toBe(3); // get, has, get
      const other = await newUser(sql);
      expect((await limitedApp.request(`${BASE}?action=list`, { headers: bearer(other.token) })).status).toBe(200); // per user
    } finally {
      await limited.db.end();
    }
  });

  test("sends CORS headers only to allowed origins and answers preflight", async ({ sql, app, get }) => {
    const u = await newUser(sql);
    const ok = await get(u.token, "action=list", { origin: ALLOWED_ORIGIN });
    expect(ok.headers.get("access-control-allow-origin")).toBe(ALLOWED_ORIGIN);
    expect(ok.headers.get("vary")).toMatch(/origin/i);
    const bad = await get(u.token, "action=list", { origin: "https://evil.example" });
    expect(bad.headers.get("access-control-allow-origin")).toBeNull();
    const pre = await app.request(BASE, {
      method: "OPTIONS",
      headers: { origin: ALLOWED_ORIGIN, "access-control-request-method": "POST", "access-control-request-headers": "authorization, x-client-info, apikey, content-type" },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe(ALLOWED_ORIGIN);
    expect(pre.headers.get("access-control-allow-headers")).toMatch(/authorization/);
    expect(pre.headers.get("access-control-allow-headers")).toMatch(/x-client-info/);
    expect(pre.headers.get("access-control-allow-methods")).toMatch(/POST/);
  });

  test("serves its OpenAPI 3.1 document", async ({ app }) => {
    const res = await app.request(`${BASE}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = await res.json();
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.paths["/"].get).toBeDefined();
    expect(doc.paths["/"].post).toBeDefined();
  });

  test("sets security headers and a request id on every response", async ({ app }) => {
    const res = await app.request(`${BASE}?action=list`);
    expect(res.headers.get("strict-transport-security")).toMatch(/max-age=/);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("content-security-policy")).toMatch(/default-src 'none'/);
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("x-request-id")).toBeTruthy();
    expect((await res.json()).requestId).toBe(res.headers.get("x-request-id"));
  });

  test("rejects bodies over the size limit with 413 and stores nothing", async ({ sql, post }) => {
    const u = await newUser(sql);
    const res = await post(u.token, "save", { serviceName: "openai_api_key_encrypted", value: "x".repeat(70 * 1024) });
    expect(res.status).toBe(413);
    expect((await res.json()).error).toBe("Payload too large");
    const [{ n }] = await sql`select count(*)::int as n from public.user_secrets where user_id = ${u.id}`;
    expect(n).toBe(0);
  });

  test("getUserSecret / hasUserSecret read a user's key for other functions, audited as reads", async ({ sql, deps, post, auditRows }) => {
    const u = await newUser(sql);
    expect(await hasUserSecret(deps, u.id, "anthropic_api_key_encrypted")).toBe(false);
    expect(await getUserSecret(deps, u.id, "anthropic_api_key_encrypted")).toBeNull();
    await post(u.token, "save", { serviceName: "anthropic_api_key_encrypted", value: "sk-ant-backend" });
    expect(await hasUserSecret(deps, u.id, "anthropic_api_key_encrypted")).toBe(true);
    expect(await getUserSecret(deps, u.id, "anthropic_api_key_encrypted")).toBe("sk-ant-backend");
    const other = await newUser(sql);
    expect(await getUserSecret(deps, other.id, "anthropic_api_key_encrypted")).toBeNull();
    const rows = (await auditRows(u.id)).filter((r) => r.user_agent === "backend");
    expect(rows.map((r) => `${r.operation}:${r.success}`)).toEqual(["read:true", "read:false", "read:true", "read:true"]);
    const [used] = await sql`select last_used_at from public.user_secrets where user_id = ${u.id}`;
    expect(used.last_used_at).not.toBeNull();
  });

  authenticationCases("GET list", (h) => app.request(`${BASE}?action=list`, { headers: h }));
  authenticationCases("POST save", (h) =>
    app.request(`${BASE}?action=save`, { method: "POST", headers: { ...h, "content-type": "application/json" }, body: JSON.stringify({ serviceName: "openai_api_key_encrypted", value: "x" }) }));
});

describe("400 answers say which field failed, never its value", () => {
  test("a 9 KB value, an unknown service, a missing serviceName: field paths and codes, audited as failures", async ({ sql, get, post, auditRows }) => {
    const u = await newUser(sql);
    const big = `sk-${"v".repeat(9 * 1024)}`;
    let res = await post(u.token, "save", { serviceName: "openai_api_key_encrypted", value: big });
    expect(res.status).toBe(400);
    let body = await res.json();
    expect(body.issues).toEqual([{ in: "body", path: "value", code: "custom" }]);
    expect(JSON.stringify(body)).not.toContain("vvvv");

    res = await post(u.token, "save", { serviceName: "not_a_service_zz", value: "x" });
    body = await res.json();
    expect(res.status).toBe(400);
    expect(body.issues).toEqual([{ in: "body", path: "serviceName", code: "invalid_value" }]);
    expect(JSON.stringify(body)).not.toContain("not_a_service_zz");

    res = await get(u.token, "action=get");
    expect(res.status).toBe(400);
    expect((await res.json()).issues).toEqual([{ in: "query", path: "serviceName", code: "missing" }]);

    res = await post(u.token, "save", "{not json");
    expect(res.status).toBe(400);
    expect((await res.json()).issues).toEqual([{ in: "body", path: "", code: "invalid_json" }]);

    const rows = await auditRows(u.id);
    expect(rows.map((r) => [r.operation, r.success, r.error_message])).toEqual(Array(4).fill(["invalid", false, "Invalid request"]));
  });
});

describe("failures count against the limit; answers are never cached; deleted users", () => {
  test("a flood of failing requests hits the limit: audited failures were counted first, 429s are not audited", async ({ sql, auditRows }) => {
    const limited = await testDeps({ SECRETS_RATE_LIMIT_PER_MINUTE: "5" });
    try {
      const a = createApp(limited);
      const u = await newUser(sql);
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) {
        const kind = i % 3;
        const res = kind === 0
          ? await a.request(`${BASE}?action=delete`, { method: "POST", headers: bearer(u.token, { "content-type": "application/json" }), body: JSON.stringify({ serviceName: "openai_api_key_encrypted" }) })
          : kind === 1
          ? await a.request(`${BASE}?action=save`, { method: "POST", headers: bearer(u.token, { "content-type": "application/json" }), body: "{}" })
          : await a.request(`${BASE}?action=get`, { headers: bearer(u.token) });
        statuses.push(res.status);
      }
      expect(statuses.slice(0, 5)).toEqual([404, 400, 400, 404, 400]);
      expect(statuses.slice(5)).toEqual(Array(7).fill(429));
      const rows = await auditRows(u.id);
      expect(rows).toHaveLength(5);
      expect(rows.every((r) => r.success === false)).toBe(true);
    } finally {
      await limited.db.end();
    }
  });

  test("a not-found get counts once (its own statement took the hit)", async ({ sql }) => {
    const limited = await testDeps({ SECRETS_RATE_LIMIT_PER_MINUTE: "3" });
    try {
      const a = createApp(limited);
      const u = await newUser(sql);
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        statuses.push((await a.request(`${BASE}?action=get&serviceName=openai_api_key_encrypted`, { headers: bearer(u.token) })).status);
      }
      expect(statuses).toEqual([404, 404, 404, 429]);
    } finally {
      await limited.db.end();
    }
  });

  test("every answer carries Cache-Control: no-store", async ({ sql, get, post }) => {
    const u = await newUser(sql);
    await post(u.token, "save", { serviceName: "openai_api_key_encrypted", value: "sk-nostore" });
    for (const res of [
      await get(u.token, "action=get&serviceName=openai_api_key_encrypted"),
      await get(u.token, "action=list"),
      await get(u.token, "action=has&serviceName=openai_api_key_encrypted"),
      await get(u.token, "action=get&serviceName=anthropic_api_key_encrypted"),
      await post(u.token, "save", { serviceName: "openai_api_key_encrypted" }),
    ]) {
      expect(res.headers.get("cache-control")).toBe("no-store");
    }
  });

  test("a valid token for a user who no longer exists answers 401 on save, never 500", async ({ sql, post }) => {
    const u = await newUser(sql);
    await sql`delete from auth.users where id = ${u.id}`;
    const res = await post(u.token, "save", { serviceName: "openai_api_key_encrypted", value: "sk-ghost" });
    expect(res.status).toBe(401);
    expect((await res.json()).error).toBe("Authentication required");
  });
});

describe("what is stored is what was acknowledged", () => {
  test("a value with NUL or a lone surrogate is refused with 400 naming value; nothing stored", async ({ sql, get, post }) => {
    const u = await newUser(sql);
    for (const value of ["a\u0000b", "\ud800", "x\udc00y", "end\ud83d"]) {
      const res = await post(u.token, "save", { serviceName: "openai_api_key_encrypted", value });
      expect(res.status).toBe(400);
      expect((await res.json()).issues).toEqual([{ in: "body", path: "value", code: "invalid_format" }]);
    }
    const ok = await post(u.token, "save", { serviceName: "openai_api_key_encrypted", value: "emoji 😀 pair" });
    expect(ok.status).toBe(200);
    expect(await (await get(u.token, "action=get&serviceName=openai_api_key_encrypted")).json()).toEqual({ value: "emoji 😀 pair" });
  });
});

describe("client address", () => {
  test("comes from CLIENT_IP_HEADER / TRUSTED_PROXY_HOPS, never from hops the client wrote", async ({ sql, auditRows }) => {
    const cf = await testDeps({ CLIENT_IP_HEADER: "CF-Connecting-IP" });
    const two = await testDeps({ TRUSTED_PROXY_HOPS: "2" });
    try {
      const u = await newUser(sql);
      const save = (a: ReturnType<typeof createApp>, headers: Record<string, string>) =>
        a.request(`${BASE}?action=save`, {
          method: "POST", headers: bearer(u.token, { "content-type": "application/json", ...headers }),
          body: JSON.stringify({ serviceName: "openai_api_key_encrypted", value: "v" }),
        });
      expect((await save(createApp(cf), { "cf-connecting-ip": "192.0.2.44", "x-forwarded-for": "6.6.6.6" })).status).toBe(200);
      expect((await save(createApp(two), { "x-forwarded-for": "6.6.6.6, 198.51.100.77, 10.1.2.3" })).status).toBe(200);
      expect((await auditRows(u.id)).map((r) => r.ip)).toEqual(["192.0.2.44", "198.51.100.77"]);
    } finally {
      await cf.db.end();
      await two.db.end();
    }
  });
});
