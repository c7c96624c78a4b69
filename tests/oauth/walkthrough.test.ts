// The local walkthrough of docs/oauth.md ("Trying it locally"), end to end: the fakes that
// tests/oauth/serve-fakes.ts serves (auto-consenting authorization server + social API for
// hootsuite), the real local server under Deno (what `npm start` runs), and the same HTTP steps
// as the curl commands: POST /start, the authorization URL and the callback as redirects,
// connections, profiles, a post, validate, disconnect.
import { describe, expect } from "vitest";
import { freePort } from "../../scripts/db/server.ts";
import { startDenoServer, waitForHttp } from "../../scripts/lib/deno.ts";
import { test as fixtures } from "../support/fixtures.ts";
import { newUser, testEnv } from "../support/harness.ts";
import { startLocalFakes, type LocalFakes } from "./support/local-fakes.ts";

const RETURN_URL = "http://localhost:3000/settings";

const test = fixtures
  /** The port the server will take, and the fakes pointed at it (OAUTH_REDIRECT_URI names it). */
  .extend("fakes", { scope: "file" }, async ({}, { onCleanup }) => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}/functions/v1`;
    const fakes = await startLocalFakes("hootsuite", { functionsBase: base });
    onCleanup(() => fakes.close());
    return { port, base, fakes } as { port: number; base: string; fakes: LocalFakes };
  })
  /** The real local server under Deno with the fakes' variables, as npm start would run it. */
  .extend("local", { scope: "file" }, async ({ fakes: { port, base, fakes } }, { onCleanup }) => {
    const server = startDenoServer({ ...process.env as Record<string, string>, ...testEnv(fakes.env), PORT: String(port) }, "pipe");
    onCleanup(async () => {
      if (server.exitCode !== null) return;
      const exited = new Promise((r) => server.once("exit", r));
      server.kill("SIGTERM");
      await exited;
    });
    await waitForHttp(`${base}/`, 60_000, server);
    return { base, fakes };
  });

const json = (token: string, body: unknown): RequestInit => ({
  method: "POST",
  headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
  body: JSON.stringify(body),
});

describe("docs/oauth.md local walkthrough against the served functions", () => {
  test("start → authorize → callback → connected=hootsuite; connections, profiles, post, scheduled post, validate, disconnect", { timeout: 90_000 },
    async ({ local: { base, fakes }, sql }) => {
      const user = await newUser(sql);
      const auth = { authorization: `Bearer ${user.token}` };

      // POST /start
      const started = await fetch(`${base}/oauth-callback/start`, json(user.token, { platform: "hootsuite", returnUrl: RETURN_URL }));
      expect(started.status).toBe(200);
      const authorizationUrl = new URL(((await started.json()) as { authorizationUrl: string }).authorizationUrl);
      expect(authorizationUrl.href.startsWith(fakes.env.HOOTSUITE_AUTH_URL)).toBe(true);
      expect(authorizationUrl.searchParams.get("redirect_uri")).toBe(`${base}/oauth-callback/callback`);
      expect(authorizationUrl.searchParams.get("client_id")).toBe(fakes.clientId);
      expect(authorizationUrl.searchParams.get("code_challenge_method")).toBe("S256");

      // The fake provider consents at once: 302 to our callback with code and state.
      const consent = await fetch(authorizationUrl, { redirect: "manual" });
      expect(consent.status).toBe(302);
      const callback = new URL(consent.headers.get("location")!);
      expect(`${callback.origin}${callback.pathname}`).toBe(`${base}/oauth-callback/callback`);
      expect(callback.searchParams.get("state")).toBe(authorizationUrl.searchParams.get("state"));
      expect(callback.searchParams.get("code")).toMatch(/^code_/);

      // GET /callback: 302 to the return URL with connected=hootsuite.
      const done = await fetch(callback, { redirect: "manual" });
      expect(done.status).toBe(302);
      expect(done.headers.get("location")).toBe(`${RETURN_URL}?connected=hootsuite`);
      // The code was exchanged with the client's credentials (client_secret_basic) and the verifier.
      expect(fakes.auth.tokenRequests.map((r) => [r.grantType, r.clientId])).toEqual([["authorization_code", fakes.clientId]]);
      // A replay of the same callback gets the error page, not a redirect.
      const replay = await fetch(callback, { redirect: "manual" });
      expect(replay.status).toBe(400);
      expect(replay.headers.get("content-type")).toMatch(/^text\/html/);

      // The stored connection: a sealed token in the vault (no token text in the row) and the connection row.
      const [secret] = await sql`select encrypted_value, is_active from public.user_secrets
                                  where user_id = ${user.id} and service_name = 'hootsuite_oauth_token'`;
      expect(secret.is_active).toBe(true);
      expect(secret.encrypted_value).not.toMatch(/at_|rt_/);
      const [conn] = await sql`select needs_reauth, scopes from public.oauth_connections where user_id = ${user.id} and platform = 'hootsuite'`;
      expect(conn).toEqual({ needs_reauth: false, scopes: ["offline"] });

      // GET /connections
      const connections = await fetch(`${base}/oauth-callback/connections`, { headers: auth });
      expect(connections.status).toBe(200);
      const list = ((await connections.json()) as { connections: { platform: string }[] }).connections;
      expect(list.find((c) => c.platform === "hootsuite")).toEqual({
        platform: "hootsuite", connected: true, expires_at: expect.any(String), scopes: ["offline"], needs_reauth: false, configured: true,
      });
      expect(list.find((c) => c.platform === "buffer")).toMatchObject({ connected: false, configured: false });

      // GET /profiles (the fake API checks the Bearer token the fake server issued)
      const profiles = await fetch(`${base}/social-post/profiles?platform=hootsuite`, { headers: auth });
      expect(profiles.status).toBe(200);
      expect(await profiles.json()).toEqual({ profiles: [
        { id: "hs-1", name: "acme", network: "twitter", avatar_url: "https://img.example.com/h1.png" },
        { id: "hs-2", name: "Acme Page", network: "facebook" },
      ] });

      // POST /posts
      const posted = await fetch(`${base}/social-post/posts`, json(user.token, { platform: "hootsuite", profileIds: ["hs-1"], text: "Hello from the walkthrough" }));
      expect(posted.status).toBe(200);
      const post = (await posted.json()) as { platform_post_id: string };
      expect(post).toEqual({ success: true, platform_post_id: expect.stringMatching(/^hsm-/), scheduled: false, profiles_posted: 1 });
      const sent = fakes.api!.requests.find((r) => r.method === "POST" && r.url === "/v1/messages")!;
      expect(JSON.parse(sent.body)).toEqual({ text: "Hello from the walkthrough", socialNetworkIds: ["hs-1"] });
      const rows = await sql`select platform, profile_ids, platform_post_id, status from public.social_posts where user_id = ${user.id}`;
      expect(rows).toEqual([{ platform: "hootsuite", profile_ids: ["hs-1"], platform_post_id: post.platform_post_id, status: "published" }]);
      expect(JSON.stringify(rows)).not.toContain("Hello from the walkthrough");

      // A scheduled post to both profiles (scheduledSendTime in whole seconds, as Hootsuite takes it).
      const at = new Date(Date.now() + 3600_000);
      const scheduled = await fetch(`${base}/social-post/posts`,
        json(user.token, { platform: "hootsuite", profileIds: ["hs-1", "hs-2"], text: "Later!", scheduledAt: at.toISOString() }));
      expect(scheduled.status).toBe(200);
      expect(await scheduled.json()).toEqual({ success: true, platform_post_id: expect.stringMatching(/^hsm-/), scheduled: true, profiles_posted: 2 });
      const sentLater = fakes.api!.requests.filter((r) => r.method === "POST" && r.url === "/v1/messages")[1];
      expect(JSON.parse(sentLater.body)).toEqual({
        text: "Later!", socialNetworkIds: ["hs-1", "hs-2"], scheduledSendTime: at.toISOString().replace(/\.\d{3}Z$/, "Z"),
      });

      // POST /validate
      const valid = await fetch(`${base}/social-post/validate`, json(user.token, { platform: "hootsuite" }));
      expect(valid.status).toBe(200);
      expect(await valid.json()).toEqual({ valid: true });

      // POST /disconnect: revoked at the fake, secret soft-deleted, connection gone.
      const disconnected = await fetch(`${base}/oauth-callback/disconnect`, json(user.token, { platform: "hootsuite" }));
      expect(disconnected.status).toBe(200);
      expect(await disconnected.json()).toEqual({ success: true, revoked: true });
      expect(fakes.auth.revoked).toHaveLength(1);
      const [after] = await sql`select is_active from public.user_secrets where user_id = ${user.id} and service_name = 'hootsuite_oauth_token'`;
      expect(after?.is_active ?? false).toBe(false);
      expect(await sql`select 1 from public.oauth_connections where user_id = ${user.id}`).toHaveLength(0);
      const again = await fetch(`${base}/oauth-callback/connections`, { headers: auth });
      expect(((await again.json()) as { connections: { platform: string }[] }).connections.find((c) => c.platform === "hootsuite"))
        .toMatchObject({ connected: false, configured: true });
    });
});
