// support-tickets: anonymous creation with strict limits (per-IP rate limit, sizes, e-mail,
// honeypot), sealed storage, a user's own list; the real app and database.
import { describe, expect } from "vitest";
import { SignJWT } from "jose";
import { createApp } from "../../functions/support-tickets/app.ts";
import { BODY_MAX, SUBJECT_MAX, TICKETS_PER_IP_PER_HOUR } from "../../functions/support-tickets/routes/tickets.ts";
import { open } from "../../shared/crypto/index.ts";
import { createLogger } from "../../shared/log/index.ts";
import { signDevToken } from "../../scripts/lib/dev-tokens.ts";
import { test as base } from "../support/fixtures.ts";
import { bearer, newUser, TEST_JWT_SECRET, testDeps } from "../support/harness.ts";
import { authenticationCases, expectError } from "../support/security.ts";

const logLines: string[] = [];
const url = "http://x/functions/v1/support-tickets";
let ipSeq = 0;
/** A fresh client address per test: the limit is per IP. */
const newIp = () => `198.51.100.${++ipSeq}`;

const ticket = (o: Record<string, unknown> = {}) => ({ subject: "Cannot log in", body: "Since yesterday the login fails.", email: "someone@example.org", ...o });

const test = base
  // Deps that log at debug level into logLines.
  .extend("deps", { scope: "file" }, async ({}, { onCleanup }) => {
    const deps = await testDeps({ LOG_LEVEL: "debug" }, { logger: createLogger("debug", (l) => logLines.push(l)) });
    onCleanup(() => deps.db.end());
    return deps;
  })
  .extend("app", { scope: "file" }, async ({ deps }) => createApp(deps))
  .extend("create", { scope: "file" }, async ({ app }) => (ip: string, body: unknown, headers: Record<string, string> = {}) =>
    Promise.resolve(app.request(url, { method: "POST", headers: { "content-type": "application/json", "x-forwarded-for": ip, ...headers }, body: JSON.stringify(body) })))
  .extend("list", { scope: "file" }, async ({ app }) => (headers: Record<string, string>, q = "") =>
    Promise.resolve(app.request(`${url}${q}`, { headers: { "x-forwarded-for": newIp(), ...headers } })))
  .extend("count", { scope: "file" }, async ({ sql }) => async () => (await sql`select count(*)::int as n from public.support_tickets`)[0].n as number);

describe("POST / (anonymous)", () => {
  test("stores an anonymous ticket sealed: no plaintext in the row, AAD binds it to its id", async ({ sql, deps, create }) => {
    const canary = `Zebulon${crypto.randomUUID().slice(0, 6)}`;
    const res = await create(newIp(), ticket({ subject: `Help for ${canary}`, body: `Call ${canary} at +1 415 555 0133`, email: `${canary}@example.org` }));
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = await res.json();
    expect(body).toEqual({ id: expect.any(String), status: "open", created_at: expect.any(String) });
    const [row] = await sql`select * from public.support_tickets where id = ${body.id}`;
    expect(row.user_id).toBeNull();
    expect(row.contains_pii).toBe(true);
    expect(JSON.stringify(row)).not.toContain(canary);
    const sealed = { encryptedValue: row.content_encrypted, iv: row.content_iv, keyVersion: row.key_version };
    expect(JSON.parse(await open(deps.keyring, sealed, `support_tickets:${body.id}`))).toEqual({
      subject: `Help for ${canary}`, body: `Call ${canary} at +1 415 555 0133`, email: `${canary}@example.org`,
    });
    await expect(open(deps.keyring, sealed, `support_tickets:${crypto.randomUUID()}`)).rejects.toThrow();
  });

  test("the anon key (what supabase-js sends before sign-in) is anonymous", async ({ sql, create }) => {
    const now = Math.floor(Date.now() / 1000);
    const anonKey = await new SignJWT({ role: "anon" }).setProtectedHeader({ alg: "HS256" }).setIssuedAt(now).setExpirationTime(now + 600)
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    const res = await create(newIp(), ticket(), bearer(anonKey));
    expect(res.status).toBe(201);
    const [row] = await sql`select user_id from public.support_tickets where id = ${(await res.json()).id}`;
    expect(row.user_id).toBeNull();
  });

  test("a presented token must be valid: bad signature, expired, malformed → 401, nothing stored", async ({ create, count }) => {
    const before = await count();
    const sub = crypto.randomUUID();
    await expectError(await create(newIp(), ticket(), bearer(await signDevToken("another-secret-that-is-32-chars-long!!", { sub }))), 401, "Authentication required");
    await expectError(await create(newIp(), ticket(), bearer(await signDevToken(TEST_JWT_SECRET, { sub, expiresInSeconds: -120 }))), 401, "Authentication required");
    await expectError(await create(newIp(), ticket(), { authorization: "Token abc" }), 401, "Authentication required");
    expect(await count()).toBe(before);
  });

  test("limits: subject ≤ 200, body ≤ 5,000, a valid e-mail, no unknown fields (400 naming the field, nothing stored)", async ({ create, count }) => {
    const before = await count();
    const cases: [Record<string, unknown>, string][] = [
      [ticket({ subject: "x".repeat(SUBJECT_MAX + 1) }), "subject"],
      [ticket({ subject: "   " }), "subject"],
      [ticket({ body: "y".repeat(BODY_MAX + 1) }), "body"],
      [ticket({ email: "not-an-email" }), "email"],
      [ticket({ email: "a@b" }), "email"],
      [ticket({ user_id: crypto.randomUUID() }), ""],
    ];
    for (const [b, path] of cases) {
      const res = await create(newIp(), b);
      expect(res.status).toBe(400);
      const err = await res.json();
      if (path) expect(err.issues.map((i: { path: string }) => i.path)).toContain(path);
    }
    expect((await create(newIp(), ticket({ subject: "s".repeat(SUBJECT_MAX), body: "b".repeat(BODY_MAX) }))).status).toBe(201);
    expect(await count()).toBe(before + 1);
  });

  test(`${TICKETS_PER_IP_PER_HOUR} attempts per client IP per hour (invalid ones count too), then 429 with Retry-After; another IP is unaffected`, async ({ sql, create, count }) => {
    const ip = newIp();
    const before = await count();
    for (let i = 0; i < TICKETS_PER_IP_PER_HOUR - 1; i++) expect((await create(ip, ticket())).status).toBe(201);
    expect((await create(ip, ticket({ email: "bad" }))).status).toBe(400); // the 5th attempt, counted
    const res = await create(ip, ticket());
    await expectError(res, 429, "Too many requests");
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await count()).toBe(before + TICKETS_PER_IP_PER_HOUR - 1);
    // Only the last hop the proxy appended counts (TRUSTED_PROXY_HOPS=1): a forged first hop changes nothing.
    await expectError(await create(`203.0.113.77, ${ip}`, ticket()), 429, "Too many requests");
    expect((await create(newIp(), ticket())).status).toBe(201);
    const [rl] = await sql`select hits from private.rate_limits where key = ${`support_tickets:ip:${ip}`}`;
    expect(rl.hits).toBe(TICKETS_PER_IP_PER_HOUR);
  });

  test("honeypot filled: a 201-looking answer, nothing stored, the attempt counted and logged", async ({ sql, create, count }) => {
    const ip = newIp();
    const before = await count();
    const res = await create(ip, ticket({ website: "http://spam.example" }));
    expect(res.status).toBe(201);
    const body = await res.json();
    expect(body).toEqual({ id: expect.any(String), status: "open", created_at: expect.any(String) });
    expect(await count()).toBe(before);
    const [row] = await sql`select count(*)::int as n from public.support_tickets where id = ${body.id}`;
    expect(row.n).toBe(0);
    expect(logLines.some((l) => l.includes('"support.honeypot"'))).toBe(true);
    for (let i = 1; i < TICKETS_PER_IP_PER_HOUR; i++) expect((await create(ip, ticket({ website: "x" }))).status).toBe(201);
    await expectError(await create(ip, ticket()), 429, "Too many requests"); // the bot used up the IP's window
    expect(await count()).toBe(before);
  });
});

describe("signed-in users", () => {
  // authenticationCases registers plain `it`s: they reach the file's fixtures through this hook.
  let list: (headers: Record<string, string>) => Promise<Response>;
  test.beforeAll(({ list: l }) => {
    list = l;
  });
  authenticationCases("GET /", (h) => list(h));

  test("a user token attaches the ticket; GET lists only the caller's own, decrypted, paged", async ({ sql, create, list }) => {
    const alice = await newUser(sql);
    const bob = await newUser(sql);
    for (let i = 1; i <= 3; i++) {
      const res = await create(newIp(), ticket({ subject: `Alice ${i}`, email: "alice@example.org" }), bearer(alice.token));
      expect(res.status).toBe(201);
    }
    expect((await create(newIp(), ticket({ subject: "Bob's" }), bearer(bob.token))).status).toBe(201);
    expect((await create(newIp(), ticket({ subject: "Anonymous" }))).status).toBe(201);
    const [n] = await sql`select count(*)::int as n from public.support_tickets where user_id = ${alice.id}`;
    expect(n.n).toBe(3);

    const p1 = await (await list(bearer(alice.token), "?limit=2")).json();
    expect(p1.items.map((t: { subject: string }) => t.subject)).toEqual(["Alice 3", "Alice 2"]);
    expect(p1.items[0]).toMatchObject({ email: "alice@example.org", status: "open", body: "Since yesterday the login fails." });
    const p2 = await (await list(bearer(alice.token), `?limit=2&cursor=${p1.next_cursor}`)).json();
    expect(p2.items.map((t: { subject: string }) => t.subject)).toEqual(["Alice 1"]);
    expect(p2.next_cursor).toBeNull();
    const bobs = await (await list(bearer(bob.token))).json();
    expect(bobs.items.map((t: { subject: string }) => t.subject)).toEqual(["Bob's"]);
    await expectError(await list(bearer(alice.token), "?cursor=bm9wZQ"), 400, "Invalid request", [{ in: "query", path: "cursor" }]);
  });

  test("RLS: as the functions' role a user reads and creates only their own tickets", async ({ sql, deps, create }) => {
    const alice = await newUser(sql);
    const bob = await newUser(sql);
    await create(newIp(), ticket(), bearer(alice.token));
    const seen = await deps.db.withUser({ id: bob.id, claims: { sub: bob.id, role: "authenticated" } },
      (tx) => tx`select id from public.support_tickets where user_id = ${alice.id}`);
    expect(seen).toHaveLength(0);
    await expect(deps.db.withUser({ id: bob.id, claims: { sub: bob.id, role: "authenticated" } }, (tx) => tx`
      insert into public.support_tickets (user_id, content_encrypted, content_iv, key_version) values (${alice.id}, 'x', 'y', 1)`))
      .rejects.toMatchObject({ code: "42501" });
  });
});
