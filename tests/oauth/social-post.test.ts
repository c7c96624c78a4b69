// social-post end to end: connections made through oauth-callback against the fake
// authorization servers, then every connector's profiles/post/schedule/analytics/validate
// against fake APIs that check the wire format byte for byte.
import { describe, expect } from "vitest";
import { createApp as createOAuthApp } from "../../functions/oauth-callback/app.ts";
import { createApp } from "../../functions/social-post/app.ts";
import { createLogger } from "../../shared/log/index.ts";
import { openSecret, type StoredSecret } from "../../shared/secrets/index.ts";
import { test as fixtures } from "../support/fixtures.ts";
import { bearer, newUser, testDeps } from "../support/harness.ts";
import { authenticationCases, expectError } from "../support/security.ts";
import { startFakeSocialApi, type FakeSocialApi, type Kind } from "./support/fake-social-api.ts";
import { connect } from "./support/flow.ts";
import { startOAuthWorld } from "./support/world.ts";

const SOCIAL = "http://localhost/functions/v1/social-post";
const KINDS: Kind[] = ["buffer", "hootsuite", "later", "sprout_social"];
const logLines: string[] = [];

const test = fixtures
  /** The fake authorization servers. */
  .extend("world", { scope: "file" }, async ({}, { onCleanup }) => {
    const world = await startOAuthWorld();
    onCleanup(() => world.close());
    return world;
  })
  /** One fake social API per connector, accepting the world's access tokens. */
  .extend("apis", { scope: "file" }, async ({ world }, { onCleanup }) => {
    const apis = {} as Record<Kind, FakeSocialApi>;
    onCleanup(() => Promise.all(Object.values(apis).map((a) => a.close())).then(() => {}));
    for (const k of KINDS) apis[k] = await startFakeSocialApi(k, (t) => world.serverOf(k).isValidAccessToken(t));
    return apis;
  })
  // Deps pointed at the fakes, logging at debug level into logLines.
  .extend("deps", { scope: "file" }, async ({ world, apis }, { onCleanup }) => {
    const extra: Record<string, string> = { LOG_LEVEL: "debug" };
    for (const k of KINDS) extra[`${k.toUpperCase()}_API_BASE_URL`] = apis[k].url;
    const deps = await testDeps(world.env(extra), { logger: createLogger("debug", (l) => logLines.push(l)) });
    onCleanup(() => deps.db.end());
    return deps;
  })
  .extend("app", { scope: "file" }, async ({ deps }) => createApp(deps))
  .extend("oauthApp", { scope: "file" }, async ({ deps }) => createOAuthApp(deps))
  /** A new user with a connection to `kind`, made through oauth-callback. */
  .extend("connected", { scope: "file" }, async ({ sql, oauthApp }) => async (kind: Kind) => {
    const u = await newUser(sql);
    expect((await connect(oauthApp, u.token, kind)).status).toBe(302);
    return u;
  })
  .extend("tokensOf", { scope: "file" }, async ({ deps, sql }) => async (userId: string, kind: Kind) => {
    const [row] = await sql<StoredSecret[]>`select encrypted_value, initialization_vector, key_version, aad_bound from public.user_secrets
      where user_id = ${userId} and service_name = ${`${kind}_oauth_token`} and is_active`;
    return JSON.parse(await openSecret(deps.keyring, row, userId, `${kind}_oauth_token`));
  })
  .extend("get", { scope: "file" }, async ({ app }) => (token: string, path: string) =>
    Promise.resolve(app.request(`${SOCIAL}${path}`, { headers: bearer(token) })))
  .extend("post", { scope: "file" }, async ({ app }) => (token: string, path: string, body: unknown) =>
    Promise.resolve(app.request(`${SOCIAL}${path}`, { method: "POST", headers: bearer(token, { "content-type": "application/json" }), body: JSON.stringify(body) })));

// authenticationCases registers plain `it`s: they reach the file's fixtures through this hook.
let app: ReturnType<typeof createApp>;
test.beforeAll(({ app: a }) => {
  app = a;
});

const inTwoDays = () => new Date(Math.floor(Date.now() / 1000) * 1000 + 2 * 86_400_000);
const MEDIA = "https://cdn.example.com/a.png";

const EXPECTED_PROFILES: Record<Kind, unknown[]> = {
  buffer: [
    { id: "buf-tw", name: "@acme", network: "twitter", avatar_url: "https://img.example.com/b1.png" },
    { id: "buf-li", name: "Acme Inc", network: "linkedin" },
  ],
  hootsuite: [
    { id: "hs-1", name: "acme", network: "twitter", avatar_url: "https://img.example.com/h1.png" },
    { id: "hs-2", name: "Acme Page", network: "facebook" },
  ],
  later: [
    { id: "lt-ig", name: "acme.ig", network: "instagram", avatar_url: "https://img.example.com/l1.png" },
    { id: "lt-fb", name: "Acme", network: "facebook" },
  ],
  sprout_social: [
    { id: "101", name: "Acme LinkedIn", network: "linkedin" },
    { id: "102", name: "Acme X", network: "twitter" },
  ],
};
const TWO: Record<Kind, [string, string]> = {
  buffer: ["buf-tw", "buf-li"], hootsuite: ["hs-1", "hs-2"], later: ["lt-ig", "lt-fb"], sprout_social: ["101", "102"],
};

describe.each(KINDS)("%s connector", (kind) => {
  test("GET /profiles answers the normalized profiles", async ({ connected, get }) => {
    const u = await connected(kind);
    const res = await get(u.token, `/profiles?platform=${kind}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ profiles: EXPECTED_PROFILES[kind] });
  });

  test("POST /posts now and scheduled: the exact wire format, the seed's answer, a social_posts row", async ({ sql, apis, connected, tokensOf, post }) => {
    const u = await connected(kind);
    const token = (await tokensOf(u.id, kind)).access_token;
    const api = apis[kind];
    const [a, b] = TWO[kind];
    const at = inTwoDays();
    const n0 = api.requests.length;

    let n = api.requests.length;
    let res = await post(u.token, "/posts", { platform: kind, profileIds: [a, b], text: "Hello world & more" });
    expect(res.status).toBe(200);
    const now = await res.json();
    expect(now).toEqual({ success: true, platform_post_id: expect.any(String), scheduled: false, profiles_posted: 2 });
    let writes = api.requests.slice(n).filter((r) => r.method === "POST");

    n = api.requests.length;
    res = await post(u.token, "/posts", { platform: kind, profileIds: [a], text: "Later on", mediaUrl: MEDIA, scheduledAt: at.toISOString() });
    expect(res.status).toBe(200);
    const scheduled = await res.json();
    expect(scheduled).toMatchObject({ success: true, scheduled: true, profiles_posted: 1 });
    const writes2 = api.requests.slice(n).filter((r) => r.method === "POST");
    const secs = at.getTime() / 1000;
    const iso = at.toISOString().replace(".000Z", "Z");

    switch (kind) {
      case "buffer":
        expect(writes.map((w) => [w.url, w.contentType, w.authorization, w.body])).toEqual([[
          "/1/updates/create.json", "application/x-www-form-urlencoded", undefined,
          `access_token=${token}&text=Hello+world+%26+more&profile_ids%5B%5D=buf-tw&profile_ids%5B%5D=buf-li`,
        ]]);
        expect(writes2.map((w) => w.body)).toEqual([
          `access_token=${token}&text=Later+on&profile_ids%5B%5D=buf-tw&media%5Blink%5D=https%3A%2F%2Fcdn.example.com%2Fa.png&scheduled_at=${secs}`,
        ]);
        expect(api.requests.slice(n0).filter((r) => r.method === "GET").every((r) => r.url.includes(`access_token=${token}`))).toBe(true);
        break;
      case "hootsuite":
        expect(writes.map((w) => [w.url, w.contentType, w.authorization, w.body])).toEqual([[
          "/v1/messages", "application/json", `Bearer ${token}`, '{"text":"Hello world & more","socialNetworkIds":["hs-1","hs-2"]}',
        ]]);
        expect(writes2.map((w) => w.body)).toEqual([
          `{"text":"Later on","socialNetworkIds":["hs-1"],"scheduledSendTime":"${iso}","mediaUrls":[{"url":"${MEDIA}"}]}`,
        ]);
        break;
      case "later":
        expect(writes.map((w) => [w.url, w.contentType, w.authorization, w.body])).toEqual([
          ["/v1/posts", "application/json", `Bearer ${token}`, '{"social_profile_id":"lt-ig","text":"Hello world & more"}'],
          ["/v1/posts", "application/json", `Bearer ${token}`, '{"social_profile_id":"lt-fb","text":"Hello world & more"}'],
        ]);
        expect(writes2.map((w) => w.body)).toEqual([
          `{"social_profile_id":"lt-ig","text":"Later on","media_url":"${MEDIA}","scheduled_at":"${at.toISOString()}"}`,
        ]);
        expect(now.platform_post_id).toMatch(/^lt-ig:lp-\d+$/);
        break;
      case "sprout_social":
        expect(writes.map((w) => [w.url, w.contentType, w.authorization, w.body])).toEqual([[
          "/v1/messages", "application/json", `Bearer ${token}`, '{"content":"Hello world & more","profileIds":["101","102"]}',
        ]]);
        expect(writes2.map((w) => w.body)).toEqual([
          `{"content":"Later on","profileIds":["101"],"scheduledTime":"${iso}","mediaUrls":["${MEDIA}"]}`,
        ]);
        break;
    }
    const rows = await sql`select platform, profile_ids, platform_post_id, scheduled_at, status from public.social_posts where user_id = ${u.id} order by created_at`;
    expect(rows.map((r) => ({ ...r }))).toEqual([
      { platform: kind, profile_ids: [a, b], platform_post_id: now.platform_post_id, scheduled_at: null, status: "published" },
      { platform: kind, profile_ids: [a], platform_post_id: scheduled.platform_post_id, scheduled_at: at, status: "scheduled" },
    ]);
    const [cols] = await sql`select string_agg(column_name, ',' order by ordinal_position) as c from information_schema.columns where table_name = 'social_posts'`;
    expect(cols.c).not.toMatch(/token|text/);
  });

  test("GET /posts/{id}/analytics normalizes what the provider has and omits the rest", async ({ apis, connected, get, post }) => {
    const u = await connected(kind);
    const [a] = TWO[kind];
    const { platform_post_id: id } = await (await post(u.token, "/posts", { platform: kind, profileIds: [a], text: "hi" })).json();
    const given: Record<Kind, Record<string, unknown>> = {
      buffer: { reach: 120, clicks: 7, favorites: 3, retweets: 2 },
      hootsuite: { impressions: 50, likes: 4 },
      later: { impressions: 900, likes: 31, comments: 5, shares: -1 },
      sprout_social: { "lifetime.impressions": 42, "lifetime.post_link_clicks": 6, "lifetime.comments_count": 1 },
    };
    const expected: Record<Kind, unknown> = {
      buffer: { impressions: 120, clicks: 7, likes: 3, shares: 2 },
      hootsuite: { impressions: 50, likes: 4 },
      later: { impressions: 900, likes: 31, comments: 5 },
      sprout_social: { impressions: 42, clicks: 6, comments: 1 },
    };
    apis[kind].setStats(given[kind]);
    try {
      const res = await get(u.token, `/posts/${encodeURIComponent(id)}/analytics?platform=${kind}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual(expected[kind]);
    } finally {
      apis[kind].setStats(null);
    }
    expect(await (await get(u.token, `/posts/${encodeURIComponent(id)}/analytics?platform=${kind}`)).json()).toEqual({});
  });

  test("POST /validate: valid with a working token; one refresh on a 401; still 401 → valid false and needs_reauth", async ({ sql, world, apis, connected, tokensOf, get, post }) => {
    const u = await connected(kind);
    expect(await (await post(u.token, "/validate", { platform: kind })).json()).toEqual({ valid: true });

    const server = world.serverOf(kind);
    server.invalidateAccessToken((await tokensOf(u.id, kind)).access_token);
    const before = server.refreshCount();
    const res = await post(u.token, "/validate", { platform: kind });
    if (kind === "buffer") {
      // Buffer tokens do not refresh (registry: refresh none): a 401 means reconnecting.
      expect(await res.json()).toEqual({ valid: false });
      expect(server.refreshCount()).toBe(before);
    } else {
      expect(await res.json()).toEqual({ valid: true });
      expect(server.refreshCount()).toBe(before + 1);
      apis[kind].failNext({ status: 401 }, { status: 401 });
      expect(await (await post(u.token, "/validate", { platform: kind })).json()).toEqual({ valid: false });
    }
    const [c] = await sql`select needs_reauth from public.oauth_connections where user_id = ${u.id} and platform = ${kind}`;
    expect(c.needs_reauth).toBe(true);
    await expectError(await get(u.token, `/profiles?platform=${kind}`), 409, "Reconnection required");
  });
});

describe("provider failures", () => {
  test("429 → 429 with the provider's Retry-After", async ({ apis, connected, get }) => {
    const u = await connected("hootsuite");
    apis.hootsuite.failNext({ status: 429, headers: { "retry-after": "17" } });
    const res = await get(u.token, "/profiles?platform=hootsuite");
    await expectError(res, 429, "Too many requests");
    expect(res.headers.get("retry-after")).toBe("17");
  });

  test("5xx → one retry (which can succeed); twice → 502 Upstream service error", async ({ apis, connected, get }) => {
    const u = await connected("later");
    let n = apis.later.requests.length;
    apis.later.failNext({ status: 503 });
    expect((await get(u.token, "/profiles?platform=later")).status).toBe(200);
    expect(apis.later.requests.length - n).toBe(2);
    n = apis.later.requests.length;
    apis.later.failNext({ status: 500 }, { status: 502 });
    await expectError(await get(u.token, "/profiles?platform=later"), 502, "Upstream service error");
    expect(apis.later.requests.length - n).toBe(2);
  });

  test("a failed post is recorded as failed, with the code and no post id", async ({ sql, apis, connected, post }) => {
    const u = await connected("sprout_social");
    apis.sprout_social.failNext({ status: 500 }, { status: 500 }); // the profiles read fails twice
    await expectError(await post(u.token, "/posts", { platform: "sprout_social", profileIds: ["101"], text: "x" }), 502, "Upstream service error");
    const rows = await sql`select status, error_code, platform_post_id from public.social_posts where user_id = ${u.id}`;
    expect(rows.map((r) => ({ ...r }))).toEqual([{ status: "failed", error_code: "upstream", platform_post_id: null }]);
  });

  test("not connected → 404; not configured → 501", async ({ sql, world, get }) => {
    const u = await newUser(sql);
    await expectError(await get(u.token, "/profiles?platform=buffer"), 404, "Not found");
    const bare = await testDeps(world.env({}, ["later"]));
    try {
      await expectError(await createApp(bare).request(`${SOCIAL}/profiles?platform=later`, { headers: bearer(u.token) }), 501, "Provider not configured");
    } finally {
      await bare.db.end();
    }
  });
});

describe("refresh before use", () => {
  test("20 concurrent uses of a connection near expiry cause exactly one refresh", async ({ world, connected, tokensOf, post }) => {
    world.basic.setExpiresIn(300); // inside the 15-minute margin
    let u;
    try {
      u = await connected("hootsuite");
    } finally {
      world.basic.setExpiresIn(3600);
    }
    const before = world.basic.refreshCount();
    world.basic.setTokenDelay(30);
    try {
      const answers = await Promise.all(Array.from({ length: 20 }, () => post(u.token, "/validate", { platform: "hootsuite" })));
      expect(answers.map((r) => r.status)).toEqual(Array(20).fill(200));
      for (const r of answers) expect(await r.json()).toEqual({ valid: true });
    } finally {
      world.basic.setTokenDelay(0);
    }
    expect(world.basic.refreshCount()).toBe(before + 1);
    const t = await tokensOf(u.id, "hootsuite");
    expect(Date.parse(t.expires_at) - Date.now()).toBeGreaterThan(59 * 60_000);
  });

  test("invalid_grant when refreshing before use → 409 Reconnection required", async ({ world, connected, tokensOf, get }) => {
    world.body.setExpiresIn(60);
    let u;
    try {
      u = await connected("later");
    } finally {
      world.body.setExpiresIn(3600);
    }
    world.body.invalidateRefreshToken((await tokensOf(u.id, "later")).refresh_token);
    await expectError(await get(u.token, "/profiles?platform=later"), 409, "Reconnection required");
  });
});

describe("validation", () => {
  let u: { id: string; token: string };
  test.beforeAll(async ({ connected }) => {
    u = await connected("hootsuite"); // hs-1 is on X (280), hs-2 a Facebook page (63,206)
  });
  const cases: [string, Record<string, unknown>, string][] = [
    ["empty text", { text: "" }, "text"],
    ["281 characters to an X profile", { text: "x".repeat(281) }, "text"],
    ["the strictest network wins", { text: "x".repeat(300), profileIds: ["hs-1", "hs-2"] }, "text"],
    ["http media", { mediaUrl: "http://cdn.example.com/a.png" }, "mediaUrl"],
    ["javascript: media", { mediaUrl: "javascript:alert(1)" }, "mediaUrl"],
    ["scheduled in the past", { scheduledAt: new Date(Date.now() - 60_000).toISOString() }, "scheduledAt"],
    ["scheduled beyond a year", { scheduledAt: new Date(Date.now() + 400 * 86_400_000).toISOString() }, "scheduledAt"],
    ["not a date", { scheduledAt: "tomorrow" }, "scheduledAt"],
    ["no profiles", { profileIds: [] }, "profileIds"],
    ["a profile of someone else", { profileIds: ["hs-999"] }, "profileIds.0"],
    ["a platform that does not post", { platform: "tiktok" }, "platform"],
  ];
  test.for(cases)("%s → 400 naming the field, nothing posted", async ([_, patch, path], { apis, post }) => {
    const n = apis.hootsuite.requests.filter((r) => r.method === "POST").length;
    const res = await post(u.token, "/posts", { platform: "hootsuite", profileIds: ["hs-1"], text: "ok", ...patch });
    await expectError(res, 400, "Invalid request", [{ in: "body", path }]);
    expect(apis.hootsuite.requests.filter((r) => r.method === "POST").length).toBe(n);
  });

  test("the limits themselves pass: 280 to X, 63,206 to a Facebook page, 2,200 to an unknown network", async ({ connected, post }) => {
    expect((await post(u.token, "/posts", { platform: "hootsuite", profileIds: ["hs-1"], text: "x".repeat(280) })).status).toBe(200);
    expect((await post(u.token, "/posts", { platform: "hootsuite", profileIds: ["hs-2"], text: "x".repeat(63206) })).status).toBe(200);
    const l = await connected("later");
    expect((await post(l.token, "/posts", { platform: "later", profileIds: ["lt-ig"], text: "x".repeat(2200) })).status).toBe(200);
    await expectError(await post(l.token, "/posts", { platform: "later", profileIds: ["lt-ig"], text: "x".repeat(2201) }), 400, "Invalid request");
  });

  test("per user, per platform rate limit → 429", async ({ world, apis, connected }) => {
    const limited = await testDeps(world.env({ SOCIAL_POST_RATE_LIMIT_PER_MINUTE: "2", HOOTSUITE_API_BASE_URL: apis.hootsuite.url }));
    try {
      const a = createApp(limited);
      const u = await connected("hootsuite");
      const call = () => a.request(`${SOCIAL}/profiles?platform=hootsuite`, { headers: bearer(u.token) });
      expect((await call()).status).toBe(200);
      expect((await call()).status).toBe(200);
      const res = await call();
      await expectError(res, 429, "Too many requests");
      expect(res.headers.get("retry-after")).toBeTruthy();
      // Another platform has its own budget.
      await expectError(await a.request(`${SOCIAL}/profiles?platform=buffer`, { headers: bearer(u.token) }), 404, "Not found");
    } finally {
      await limited.db.end();
    }
  });
});

describe("social_posts is owner-only", () => {
  test("through the Data API (authenticated) a user reads their own rows and writes none", async ({ sql, connected, post }) => {
    const a = await connected("buffer");
    const b = await newUser(sql);
    expect((await post(a.token, "/posts", { platform: "buffer", profileIds: ["buf-tw"], text: "mine" })).status).toBe(200);
    const asUser = (id: string) => sql.begin(async (tx) => {
      await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${JSON.stringify({ sub: id, role: "authenticated" })}, true)`;
      return (await tx`select count(*)::int as n from public.social_posts`)[0].n;
    });
    expect(await asUser(a.id)).toBe(1);
    expect(await asUser(b.id)).toBe(0);
    await expect(sql.begin(async (tx) => {
      await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${JSON.stringify({ sub: a.id, role: "authenticated" })}, true)`;
      await tx`insert into public.social_posts (user_id, platform, profile_ids, status) values (${a.id}, 'buffer', '{x}', 'published')`;
    })).rejects.toMatchObject({ code: "42501" });
  });
});

describe("security cases", () => {
  authenticationCases("GET /profiles", (h) => app.request(`${SOCIAL}/profiles?platform=buffer`, { headers: h }));
  authenticationCases("POST /posts", (h) => app.request(`${SOCIAL}/posts`, {
    method: "POST", headers: { "content-type": "application/json", ...h }, body: JSON.stringify({ platform: "buffer", profileIds: ["buf-tw"], text: "x" }),
  }));
  authenticationCases("GET /posts/{id}/analytics", (h) => app.request(`${SOCIAL}/posts/upd-1/analytics?platform=buffer`, { headers: h }));
  authenticationCases("POST /validate", (h) => app.request(`${SOCIAL}/validate`, {
    method: "POST", headers: { "content-type": "application/json", ...h }, body: JSON.stringify({ platform: "buffer" }),
  }));

  test("another user's connection is never used: B gets 404 for A's platform", async ({ sql, apis, connected, get, post }) => {
    const a = await connected("later");
    const b = await newUser(sql);
    const n = apis.later.requests.length;
    await expectError(await get(b.token, "/profiles?platform=later"), 404, "Not found");
    await expectError(await post(b.token, "/posts", { platform: "later", profileIds: ["lt-ig"], text: "x" }), 404, "Not found");
    expect(apis.later.requests.length).toBe(n);
    expect((await get(a.token, "/profiles?platform=later")).status).toBe(200);
  });
});

describe("log canary", () => {
  test("no access or refresh token, client secret or provider text in any log line", async ({ apis, connected, tokensOf, get, post }) => {
    const secrets = new Set<string>();
    for (const kind of KINDS) {
      const u = await connected(kind);
      const t = await tokensOf(u.id, kind);
      secrets.add(t.access_token);
      secrets.add(t.refresh_token);
      await get(u.token, `/profiles?platform=${kind}`);
      await post(u.token, "/posts", { platform: kind, profileIds: [TWO[kind][0]], text: "canary post" });
      apis[kind].failNext({ status: 401 }, { status: 401 });
      await post(u.token, "/validate", { platform: kind });
      const t2 = await tokensOf(u.id, kind);
      secrets.add(t2.access_token);
      secrets.add(t2.refresh_token);
    }
    const all = logLines.join("\n");
    expect(logLines.length).toBeGreaterThan(10);
    for (const s of secrets) if (s) expect(all).not.toContain(s);
    expect(all).not.toContain("SECRET-PROVIDER-TEXT");
    expect(all).not.toContain("CANARY");
    expect(all).not.toContain("canary post");
  });
});
