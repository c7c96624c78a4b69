// oauth-callback end to end: the real app, the real database, fake authorization servers on
// 127.0.0.1 (one per client authentication style) that verify PKCE and client credentials.
import { describe, expect } from "vitest";
import type postgres from "postgres";
import { createApp } from "../../functions/oauth-callback/app.ts";
import { createLogger } from "../../shared/log/index.ts";
import { OAUTH_PLATFORMS, PROVIDERS, type Platform } from "../../shared/oauth/providers.ts";
import { openSecret, type StoredSecret } from "../../shared/secrets/index.ts";
import type { Deps } from "../../shared/runtime/deps.ts";
import { test as fixtures } from "../support/fixtures.ts";
import { bearer, newUser, testDeps } from "../support/harness.ts";
import { authenticationCases, expectError } from "../support/security.ts";
import type { ScriptedFailure } from "./support/fake-auth-server.ts";
import { approve, connect, OAUTH, postJson, start } from "./support/flow.ts";
import { clientOf, REDIRECT_URI, RETURN_BASE, startOAuthWorld, type OAuthWorld } from "./support/world.ts";

const logLines: string[] = [];

/** The stored tokens of a user's connection, opened; null when there is none. */
const tokensReader = (deps: Deps, sql: postgres.Sql) => async (userId: string, platform: Platform) => {
  const [row] = await sql<(StoredSecret & { is_active: boolean })[]>`
    select encrypted_value, initialization_vector, key_version, aad_bound, is_active from public.user_secrets
    where user_id = ${userId} and service_name = ${`${platform}_oauth_token`}`;
  if (!row) return null;
  return { row, value: JSON.parse(await openSecret(deps.keyring, row, userId, `${platform}_oauth_token`)) };
};

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
  .extend("storedTokens", { scope: "file" }, async ({ deps, sql }) => tokensReader(deps, sql));

// authenticationCases registers plain `it`s: they reach the file's fixtures through this hook.
let app: ReturnType<typeof createApp>;
test.beforeAll(({ app: a }) => {
  app = a;
});

const htmlPage = async (res: Response) => {
  expect(res.status).toBe(400);
  expect(res.headers.get("content-type")).toMatch(/^text\/html/);
  expect(res.headers.get("location")).toBeNull();
  const text = await res.text();
  expect(text).toContain("Connection failed");
  return text;
};

describe("full flow, every platform", () => {
  test.for(OAUTH_PLATFORMS)("%s: start → provider → callback → sealed tokens, audit, connection", async (platform, { sql, app, world, storedTokens }) => {
    const u = await newUser(sql);
    const def = PROVIDERS[platform];
    const server = world.serverOf(platform);
    const before = server.tokenRequests.length;
    const url = await start(app, u.token, platform);
    const q = url.searchParams;
    expect(`${url.origin}${url.pathname}`).toBe(`${server.url}/authorize`);
    // The client id under the provider's own parameter name (TikTok: client_key), and only there.
    const idParam = clientOf(platform).idParam ?? "client_id";
    expect(def.clientIdParam).toBe(idParam);
    expect(q.get(idParam)).toBe(clientOf(platform).clientId);
    if (idParam !== "client_id") expect(q.has("client_id")).toBe(false);
    expect(q.get("redirect_uri")).toBe(REDIRECT_URI);
    expect(q.get("response_type")).toBe("code");
    expect(q.get("scope")).toBe(def.scopes.length ? def.scopes.join(def.scopeSeparator) : null);
    const state = q.get("state")!;
    expect(state).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 random bytes, base64url
    if (def.pkce === "none") {
      expect(q.get("code_challenge")).toBeNull();
    } else {
      expect(q.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(q.get("code_challenge_method")).toBe("S256");
    }
    for (const [k, v] of Object.entries(def.authorizationParams)) expect(q.get(k)).toBe(v);
    if (platform === "youtube") expect([q.get("access_type"), q.get("prompt")]).toEqual(["offline", "consent"]);

    // Server-side: only the hash of the state, bound to the user; the verifier sealed.
    const [st] = await sql`select * from public.oauth_states where user_id = ${u.id}`;
    expect(st.platform).toBe(platform);
    expect(st.state_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(st)).not.toContain(state);
    expect(st.verifier_encrypted === null).toBe(def.pkce === "none");
    expect(new Date(st.expires_at).getTime() - Date.now()).toBeGreaterThan(9 * 60_000);
    expect(new Date(st.expires_at).getTime() - Date.now()).toBeLessThanOrEqual(10 * 60_000);

    const res = await app.request(await approve(url));
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe(`${RETURN_BASE}settings?connected=${platform}`);

    // The token request: this provider's client authentication style, the verifier when PKCE.
    const tr = server.tokenRequests.slice(before);
    expect(tr).toHaveLength(1);
    const form = new URLSearchParams(tr[0].body);
    expect(tr[0].grantType).toBe("authorization_code");
    expect(tr[0].clientId).toBe(clientOf(platform).clientId);
    if (def.clientAuth === "basic") {
      expect(tr[0].authorization).toMatch(/^Basic /);
      expect(form.has("client_secret")).toBe(false);
    } else {
      expect(tr[0].authorization).toBeUndefined();
      expect(form.get("client_secret")).toBe(clientOf(platform).clientSecret);
      expect(form.get(idParam)).toBe(clientOf(platform).clientId);
      if (idParam !== "client_id") expect(form.has("client_id")).toBe(false);
    }
    expect(form.has("code_verifier")).toBe(def.pkce !== "none");

    const stored = await storedTokens(u.id, platform);
    expect(stored!.row.aad_bound).toBe(true);
    expect(stored!.row.key_version).toBe(1);
    expect(stored!.row.encrypted_value).not.toContain("at_");
    expect(Object.keys(stored!.value).sort()).toEqual(["access_token", "expires_at", "refresh_token", "scope", "token_type"]);
    expect(server.isValidAccessToken(stored!.value.access_token)).toBe(true);
    expect(stored!.value.token_type).toBe("bearer");
    const [conn] = await sql`select needs_reauth, expires_at, scopes from public.oauth_connections where user_id = ${u.id} and platform = ${platform}`;
    expect(conn.needs_reauth).toBe(false);
    expect(new Date(conn.expires_at).toISOString()).toBe(stored!.value.expires_at);
    const audit = await sql`select service_name, operation, success from public.secret_audit_logs where user_id = ${u.id}`;
    expect(audit.map((r) => ({ ...r }))).toEqual([{ service_name: `${platform}_oauth_token`, operation: "create", success: true }]);
    const [used] = await sql`select used_at from public.oauth_states where user_id = ${u.id}`;
    expect(used.used_at).not.toBeNull();
  });
});

describe("the state", () => {
  test("is single use: a replay gets the HTML page and no second exchange", async ({ sql, app, world }) => {
    const u = await newUser(sql);
    const callback = await approve(await start(app, u.token, "hootsuite"));
    expect((await app.request(callback)).status).toBe(302);
    const n = world.basic.tokenRequests.length;
    await htmlPage(await app.request(callback));
    expect(world.basic.tokenRequests.length).toBe(n);
  });

  test("is consumed atomically: of two concurrent callbacks exactly one wins", async ({ sql, app }) => {
    const u = await newUser(sql);
    const callback = await approve(await start(app, u.token, "later"));
    const answers = await Promise.all([app.request(callback), app.request(callback), app.request(callback)]);
    expect(answers.map((r) => r.status).sort()).toEqual([302, 400, 400]);
    const [{ n }] = await sql`select count(*)::int as n from public.secret_audit_logs where user_id = ${u.id} and operation = 'create'`;
    expect(n).toBe(1);
  });

  test("expires after 10 minutes: an expired state gets the HTML page and no exchange", async ({ sql, app, world, storedTokens }) => {
    const u = await newUser(sql);
    const callback = await approve(await start(app, u.token, "buffer"));
    await sql`update public.oauth_states set expires_at = now() - interval '1 second' where user_id = ${u.id}`;
    const n = world.body.tokenRequests.length;
    await htmlPage(await app.request(callback));
    expect(world.body.tokenRequests.length).toBe(n);
    expect(await storedTokens(u.id, "buffer")).toBeNull();
  });

  test("tampered, missing, malformed or forged states get the HTML page, never a redirect", async ({ sql, app }) => {
    const u = await newUser(sql);
    const callback = new URL(await approve(await start(app, u.token, "buffer")));
    const state = callback.searchParams.get("state")!;
    const flipped = state.slice(0, -1) + (state.endsWith("A") ? "B" : "A");
    const code = callback.searchParams.get("code")!;
    // The seed's own format: base64 JSON naming a user and a return URL, unsigned.
    const seedStyle = btoa(JSON.stringify({ platform: "buffer", userId: u.id, returnUrl: "https://evil.example/", timestamp: Date.now() }));
    for (const q of [`code=${code}&state=${flipped}`, `code=${code}`, `code=${code}&state=`, `code=${code}&state=${encodeURIComponent(seedStyle)}`,
      `code=${code}&state=${"a".repeat(44)}`, `error=access_denied&state=${flipped}`,
      // A repeated parameter fails the documented query schema: still the page, not the JSON 400.
      `code=${code}&state=${state}&state=${state}`]) {
      const text = await htmlPage(await app.request(`${OAUTH}/callback?${q}`));
      expect(text).not.toContain("evil.example");
    }
    // The genuine state still works afterwards.
    expect((await app.request(callback.href)).status).toBe(302);
  });

  test("binds the user: a flow A began, completed in B's browser session, attaches nothing to B", async ({ sql, app, storedTokens }) => {
    const a = await newUser(sql);
    const b = await newUser(sql);
    const callback = await approve(await start(app, a.token, "linkedin"));
    // B's browser follows the link (with B's JWT even): the state says A.
    const res = await app.request(callback, { headers: bearer(b.token) });
    expect(res.status).toBe(302);
    expect(await storedTokens(b.id, "linkedin")).toBeNull();
    const [{ n }] = await sql`select count(*)::int as n from public.user_secrets where user_id = ${b.id}`;
    expect(n).toBe(0);
    expect((await storedTokens(a.id, "linkedin"))!.row.is_active).toBe(true);
    // And B cannot see or use A's connection.
    const list = await (await app.request(`${OAUTH}/connections`, { headers: bearer(b.token) })).json();
    expect(list.connections.find((x: { platform: string }) => x.platform === "linkedin").connected).toBe(false);
    await expectError(await postJson(app, "/refresh", b.token, { platform: "linkedin" }), 404, "Not found");
    await expectError(await postJson(app, "/disconnect", b.token, { platform: "linkedin" }), 404, "Not found");
    expect((await storedTokens(a.id, "linkedin"))!.row.is_active).toBe(true);
  });
});

describe("return URL allowlist", () => {
  const refused = [
    "https://evil.example/",
    "//evil.example/",
    "https://app.example.com.evil.example/",
    "https://app.example.com@evil.example/",
    "https://user:pw@app.example.com/",
    "https://app.example.com\\@evil.example/",
    "https:\\\\evil.example/",
    "https://app.example.com%2F@evil.example/",
    "https://app.example.com%252F%252Fevil.example/",
    "http://app.example.com/", // scheme differs
    "https://app.example.com:8443/", // port differs
    "javascript:alert(1)//https://app.example.com/",
    "data:text/html,https://app.example.com/",
    " https://app.example.com/",
    "https://app.example.com/\t/evil",
    "https://app.example.com/%2e%2e/x",
    "http://localhost:3000/application", // prefix without a trailing slash: not a path boundary
    "http://localhost:3000/app/../admin",
    "/settings",
    "",
  ];
  test.for(refused)("refuses %j with 400 naming returnUrl", async (returnUrl, { sql, app }) => {
    const u = await newUser(sql);
    const res = await postJson(app, "/start", u.token, { platform: "buffer", returnUrl });
    await expectError(res, 400, "Invalid request", [{ in: "body", path: "returnUrl" }]);
    const [{ n }] = await sql`select count(*)::int as n from public.oauth_states where user_id = ${u.id}`;
    expect(n).toBe(0);
  });

  test.for(["https://app.example.com/", "https://app.example.com/settings?tab=social#top", "http://localhost:3000/app", "http://localhost:3000/app/x?y=1"])(
    "accepts %j", async (returnUrl, { sql, app }) => {
      const u = await newUser(sql);
      expect((await postJson(app, "/start", u.token, { platform: "buffer", returnUrl })).status).toBe(200);
    },
  );
});

describe("provider errors", () => {
  const seedMessages: [string, string, string][] = [
    ["access_denied", "access_denied", "Authorization was cancelled by user"],
    ["invalid_request", "invalid_request", "Invalid authorization request"],
    ["invalid_client", "invalid_client", "Invalid client credentials"],
    ["invalid_grant", "invalid_grant", "Invalid authorization grant"],
    ["unsupported_response_type", "unsupported_response_type", "Unsupported response type"],
    ["temporarily_unavailable", "server_error", "The connection could not be completed. Please try again."],
  ];
  test.for(seedMessages)("?error=%s → redirect with error=%s and the seed's message, never the provider's text", async ([given, code, message], { sql, app, storedTokens }) => {
    const u = await newUser(sql);
    const state = (await start(app, u.token, "hootsuite")).searchParams.get("state")!;
    const res = await app.request(`${OAUTH}/callback?error=${given}&error_description=SECRET-PROVIDER-TEXT&state=${state}`);
    expect(res.status).toBe(302);
    const loc = new URL(res.headers.get("location")!);
    expect(`${loc.origin}${loc.pathname}`).toBe(`${RETURN_BASE}settings`);
    expect(loc.searchParams.get("error")).toBe(code);
    expect(loc.searchParams.get("message")).toBe(message);
    expect(loc.href).not.toContain("SECRET-PROVIDER-TEXT");
    expect(await storedTokens(u.id, "hootsuite")).toBeNull();
  });

  test.for<[ScriptedFailure, string]>([
    [{ status: 400, body: { error: "invalid_grant", error_description: "SECRET-PROVIDER-TEXT" } }, "invalid_grant"],
    [{ status: 401, body: { error: "invalid_client", error_description: "SECRET-PROVIDER-TEXT" } }, "invalid_client"],
    [{ status: 400, body: { error: "slow_down", error_description: "SECRET-PROVIDER-TEXT" } }, "server_error"],
    [{ status: 500, body: "<html>SECRET-PROVIDER-TEXT</html>" }, "server_error"],
    [{ status: 503, body: { error: "invalid_grant" } }, "server_error"],
    [{ status: 200, body: { token_type: "bearer" } }, "server_error"], // no access_token
  ])("token endpoint answering %j → clean error redirect (%s)", async ([failure, code], { sql, app, world, storedTokens }) => {
    const u = await newUser(sql);
    const callback = await approve(await start(app, u.token, "later"));
    world.body.failNextToken(failure);
    const res = await app.request(callback);
    expect(res.status).toBe(302);
    const loc = new URL(res.headers.get("location")!);
    expect(loc.searchParams.get("error")).toBe(code);
    expect(loc.href).not.toContain("SECRET");
    expect(await storedTokens(u.id, "later")).toBeNull();
  });

  test("a provider that is down (connection refused) → clean error redirect", async ({ sql, world }) => {
    const down = await testDeps(world.env({ LATER_TOKEN_URL: "http://127.0.0.1:9/token" }));
    try {
      const u = await newUser(sql);
      const a = createApp(down);
      const callback = await approve(await start(a, u.token, "later"));
      const res = await a.request(callback);
      expect(res.status).toBe(302);
      expect(new URL(res.headers.get("location")!).searchParams.get("error")).toBe("server_error");
    } finally {
      await down.db.end();
    }
  });

  test("a platform without client credentials answers 501 Provider not configured", async ({ sql, world }) => {
    const bare = await testDeps(world.env({}, ["tiktok"]));
    try {
      const u = await newUser(sql);
      const a = createApp(bare);
      await expectError(await postJson(a, "/start", u.token, { platform: "tiktok", returnUrl: `${RETURN_BASE}x` }), 501, "Provider not configured");
      await expectError(await postJson(a, "/refresh", u.token, { platform: "tiktok" }), 501, "Provider not configured");
      const list = await (await a.request(`${OAUTH}/connections`, { headers: bearer(u.token) })).json();
      expect(list.connections.find((x: { platform: string }) => x.platform === "tiktok").configured).toBe(false);
      expect(list.connections.find((x: { platform: string }) => x.platform === "buffer").configured).toBe(true);
    } finally {
      await bare.db.end();
    }
  });

  test("an unknown platform is 400", async ({ sql, app }) => {
    const u = await newUser(sql);
    await expectError(await postJson(app, "/start", u.token, { platform: "myspace", returnUrl: `${RETURN_BASE}x` }), 400, "Invalid request",
      [{ in: "body", path: "platform" }]);
  });
});

describe("connections, refresh, disconnect", () => {
  test("GET /connections lists every platform with connected, expires_at, scopes, needs_reauth, configured", async ({ sql, app }) => {
    const u = await newUser(sql);
    expect((await connect(app, u.token, "later")).status).toBe(302);
    const res = await app.request(`${OAUTH}/connections`, { headers: bearer(u.token) });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const { connections } = await res.json();
    expect(connections.map((c: { platform: string }) => c.platform)).toEqual([...OAUTH_PLATFORMS]);
    const later = connections.find((c: { platform: string }) => c.platform === "later");
    expect(later).toEqual({ platform: "later", connected: true, expires_at: expect.any(String), scopes: ["read", "write"], needs_reauth: false, configured: true });
    expect(connections.find((c: { platform: string }) => c.platform === "buffer")).toEqual({
      platform: "buffer", connected: false, expires_at: null, scopes: [], needs_reauth: false, configured: true,
    });
    expect(JSON.stringify(connections)).not.toMatch(/at_|rt_/);
  });

  test("POST /refresh refreshes, stores the rotated refresh token, and the old one is dead", async ({ sql, app, world, storedTokens }) => {
    const u = await newUser(sql);
    await connect(app, u.token, "hootsuite");
    const before = (await storedTokens(u.id, "hootsuite"))!.value;
    const n = world.basic.refreshCount();
    const res = await postJson(app, "/refresh", u.token, { platform: "hootsuite" });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ platform: "hootsuite", connected: true, needs_reauth: false });
    expect(world.basic.refreshCount()).toBe(n + 1);
    const after = (await storedTokens(u.id, "hootsuite"))!.value;
    expect(after.refresh_token).not.toBe(before.refresh_token);
    expect(after.access_token).not.toBe(before.access_token);
    expect(world.basic.isValidAccessToken(after.access_token)).toBe(true);
    const audit = await sql`select operation from public.secret_audit_logs where user_id = ${u.id} order by created_at`;
    expect(audit.map((r) => r.operation)).toEqual(["create", "update"]);
  });

  test("a provider that does not rotate keeps the stored refresh token", async ({ sql, app, world, storedTokens }) => {
    const u = await newUser(sql);
    await connect(app, u.token, "later");
    const before = (await storedTokens(u.id, "later"))!.value;
    world.body.setRotation(false);
    try {
      expect((await postJson(app, "/refresh", u.token, { platform: "later" })).status).toBe(200);
    } finally {
      world.body.setRotation(true);
    }
    const after = (await storedTokens(u.id, "later"))!.value;
    expect(after.refresh_token).toBe(before.refresh_token);
    expect(after.access_token).not.toBe(before.access_token);
  });

  test("TikTok: refresh and revocation name the client as client_key (the fake refuses client_id)", async ({ sql, app, world, storedTokens }) => {
    const u = await newUser(sql);
    expect((await connect(app, u.token, "tiktok")).status).toBe(302);
    const n = world.body.tokenRequests.length;
    expect((await postJson(app, "/refresh", u.token, { platform: "tiktok" })).status).toBe(200);
    const [refresh] = world.body.tokenRequests.slice(n);
    const form = new URLSearchParams(refresh.body);
    expect([refresh.grantType, refresh.clientId, form.get("client_key"), form.has("client_id")])
      .toEqual(["refresh_token", "tiktok-client-id", "tiktok-client-id", false]);
    const t = (await storedTokens(u.id, "tiktok"))!.value;
    expect(await (await postJson(app, "/disconnect", u.token, { platform: "tiktok" })).json()).toEqual({ success: true, revoked: true });
    expect(world.body.revoked).toContainEqual({ token: t.refresh_token, hint: "refresh_token" });
  });

  test("20 concurrent POST /refresh of one connection → exactly one refresh at the provider", async ({ sql, app, world, storedTokens }) => {
    const u = await newUser(sql);
    await connect(app, u.token, "twitter");
    const n = world.basic.refreshCount();
    world.basic.setTokenDelay(30);
    try {
      const answers = await Promise.all(Array.from({ length: 20 }, () => postJson(app, "/refresh", u.token, { platform: "twitter" })));
      expect(answers.map((r) => r.status)).toEqual(Array(20).fill(200));
    } finally {
      world.basic.setTokenDelay(0);
    }
    expect(world.basic.refreshCount()).toBe(n + 1);
    const t = (await storedTokens(u.id, "twitter"))!.value;
    expect(world.basic.isValidAccessToken(t.access_token)).toBe(true);
  });

  test("invalid_grant on refresh → needs_reauth and 409 Reconnection required (until the user connects again)", async ({ sql, app, world, storedTokens }) => {
    const u = await newUser(sql);
    await connect(app, u.token, "youtube");
    const t = (await storedTokens(u.id, "youtube"))!.value;
    world.body.invalidateRefreshToken(t.refresh_token);
    await expectError(await postJson(app, "/refresh", u.token, { platform: "youtube" }), 409, "Reconnection required");
    const list = await (await app.request(`${OAUTH}/connections`, { headers: bearer(u.token) })).json();
    expect(list.connections.find((c: { platform: string }) => c.platform === "youtube")).toMatchObject({ connected: true, needs_reauth: true });
    const n = world.body.tokenRequests.length;
    await expectError(await postJson(app, "/refresh", u.token, { platform: "youtube" }), 409, "Reconnection required");
    expect(world.body.tokenRequests.length).toBe(n); // no more calls with a dead grant
    const failures = await sql`select operation, error_message from public.secret_audit_logs where user_id = ${u.id} and not success`;
    expect(failures.map((r) => ({ ...r }))).toEqual([{ operation: "update", error_message: "Reconnection required" }]);
    // Connecting again clears it.
    expect((await connect(app, u.token, "youtube")).status).toBe(302);
    expect((await postJson(app, "/refresh", u.token, { platform: "youtube" })).status).toBe(200);
  });

  test("a token endpoint failure during refresh → 502, nothing changed", async ({ sql, app, world, storedTokens }) => {
    const u = await newUser(sql);
    await connect(app, u.token, "linkedin");
    const before = (await storedTokens(u.id, "linkedin"))!.value;
    world.body.failNextToken({ status: 500, body: "oops" });
    await expectError(await postJson(app, "/refresh", u.token, { platform: "linkedin" }), 502, "Upstream service error");
    expect((await storedTokens(u.id, "linkedin"))!.value).toEqual(before);
  });

  describe("a token endpoint that hangs during a refresh", () => {
    // Each case: its own app with its own timeouts; connect, make the next /token hang, refresh
    // → a clean 502 (not a 503 from the deadline, not a killed transaction), nothing stored, the
    // connection's lock released: the next refresh of the same connection succeeds.
    const hangingRefresh = async ({ world, sql, storedTokens }: { world: OAuthWorld; sql: postgres.Sql; storedTokens: ReturnType<typeof tokensReader> }, env: Record<string, string>) => {
      const d = await testDeps(world.env(env));
      try {
        const a = createApp(d);
        const u = await newUser(sql);
        expect((await connect(a, u.token, "later")).status).toBe(302);
        const before = (await storedTokens(u.id, "later"))!.value;
        const n = world.body.tokenRequests.length;
        world.body.hangNextToken();
        await expectError(await postJson(a, "/refresh", u.token, { platform: "later" }), 502, "Upstream service error");
        expect(world.body.tokenRequests.slice(n).map((r) => r.grantType)).toEqual(["refresh_token"]); // it did hang there
        expect((await storedTokens(u.id, "later"))!.value).toEqual(before);
        const [free] = await sql.begin((tx) => tx`select pg_try_advisory_xact_lock(hashtextextended(${`oauth:${u.id}:later`}, 0)) as ok`);
        expect(free.ok).toBe(true);
        const again = await postJson(a, "/refresh", u.token, { platform: "later" });
        expect(again.status).toBe(200);
        const after = (await storedTokens(u.id, "later"))!.value;
        expect(after.access_token).not.toBe(before.access_token);
        expect(world.body.isValidAccessToken(after.access_token)).toBe(true);
      } finally {
        await d.db.end();
      }
    };

    test("OAUTH_HTTP_TIMEOUT_MS is enforced (shorter than the request deadline)", async ({ sql, world, storedTokens }) => {
      await hangingRefresh({ world, sql, storedTokens }, { OAUTH_HTTP_TIMEOUT_MS: "300", REQUEST_DEADLINE_MS: "5000" });
    });

    test("a timeout longer than the request deadline is cut to what keeps the transaction committable", async ({ sql, world, storedTokens }) => {
      await hangingRefresh({ world, sql, storedTokens }, { OAUTH_HTTP_TIMEOUT_MS: "60000", REQUEST_DEADLINE_MS: "1200" });
    });
  });

  test("POST /disconnect revokes at the provider, soft-deletes the secret, audits", async ({ sql, app, world, storedTokens }) => {
    const u = await newUser(sql);
    await connect(app, u.token, "twitter");
    const t = (await storedTokens(u.id, "twitter"))!.value;
    const res = await postJson(app, "/disconnect", u.token, { platform: "twitter" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true, revoked: true });
    expect(world.basic.revoked).toContainEqual({ token: t.refresh_token, hint: "refresh_token" });
    const stored = await storedTokens(u.id, "twitter");
    expect(stored!.row.is_active).toBe(false);
    const audit = await sql`select operation from public.secret_audit_logs where user_id = ${u.id} order by created_at`;
    expect(audit.map((r) => r.operation)).toEqual(["create", "read", "delete"]);
    const list = await (await app.request(`${OAUTH}/connections`, { headers: bearer(u.token) })).json();
    expect(list.connections.find((c: { platform: string }) => c.platform === "twitter")).toMatchObject({ connected: false, needs_reauth: false });
    await expectError(await postJson(app, "/disconnect", u.token, { platform: "twitter" }), 404, "Not found");
  });

  test("a failed revocation is logged, not fatal; a provider without revocation is not called", async ({ sql, app, world, storedTokens }) => {
    const u = await newUser(sql);
    await connect(app, u.token, "hootsuite");
    world.basic.failNextRevoke({ status: 503, body: "down" });
    const res = await postJson(app, "/disconnect", u.token, { platform: "hootsuite" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true, revoked: false });
    expect((await storedTokens(u.id, "hootsuite"))!.row.is_active).toBe(false);
    expect(logLines.some((l) => l.includes('"oauth.revoke_failed"') && l.includes('"platform":"hootsuite"'))).toBe(true);

    await connect(app, u.token, "buffer");
    const revocations = world.body.revoked.length + world.basic.revoked.length;
    expect(await (await postJson(app, "/disconnect", u.token, { platform: "buffer" })).json()).toEqual({ success: true, revoked: false });
    expect(world.body.revoked.length + world.basic.revoked.length).toBe(revocations);
  });
});

describe("security cases", () => {
  authenticationCases("POST /start", (h) => app.request(`${OAUTH}/start`, {
    method: "POST", headers: { "content-type": "application/json", ...h }, body: JSON.stringify({ platform: "buffer", returnUrl: `${RETURN_BASE}x` }),
  }));
  authenticationCases("GET /connections", (h) => app.request(`${OAUTH}/connections`, { headers: h }));
  authenticationCases("POST /refresh", (h) => app.request(`${OAUTH}/refresh`, {
    method: "POST", headers: { "content-type": "application/json", ...h }, body: JSON.stringify({ platform: "buffer" }),
  }));
  authenticationCases("POST /disconnect", (h) => app.request(`${OAUTH}/disconnect`, {
    method: "POST", headers: { "content-type": "application/json", ...h }, body: JSON.stringify({ platform: "buffer" }),
  }));

  test("the rate limit answers 429 with Retry-After", async ({ sql, world }) => {
    const limited = await testDeps(world.env({ OAUTH_RATE_LIMIT_PER_MINUTE: "2" }));
    try {
      const u = await newUser(sql);
      const a = createApp(limited);
      for (let i = 0; i < 2; i++) expect((await a.request(`${OAUTH}/connections`, { headers: bearer(u.token) })).status).toBe(200);
      const res = await a.request(`${OAUTH}/connections`, { headers: bearer(u.token) });
      await expectError(res, 429, "Too many requests");
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    } finally {
      await limited.db.end();
    }
  });
});

describe("log canary", () => {
  test("no token, code, state, client secret or provider text in any log line", async ({ sql, app, world, storedTokens }) => {
    const secrets = new Set<string>();
    for (const platform of ["hootsuite", "later", "twitter"] as Platform[]) {
      const u = await newUser(sql);
      const url = await start(app, u.token, platform);
      secrets.add(url.searchParams.get("state")!);
      const cb = await approve(url);
      secrets.add(new URL(cb).searchParams.get("code")!);
      await app.request(cb);
      const t1 = (await storedTokens(u.id, platform))!.value;
      await postJson(app, "/refresh", u.token, { platform });
      const t2 = (await storedTokens(u.id, platform))!.value;
      for (const t of [t1, t2]) [t.access_token, t.refresh_token].forEach((s: string) => secrets.add(s));
      secrets.add(clientOf(platform).clientSecret);
      world.serverOf(platform).failNextToken({ status: 400, body: { error: "invalid_grant", error_description: "SECRET-PROVIDER-TEXT" } });
      await postJson(app, "/refresh", u.token, { platform });
      await postJson(app, "/disconnect", u.token, { platform });
    }
    expect(logLines.length).toBeGreaterThan(10);
    const all = logLines.join("\n");
    for (const s of secrets) expect(all).not.toContain(s);
    expect(all).not.toContain("SECRET-PROVIDER-TEXT");
    expect(all).not.toContain("CANARY");
  });
});
