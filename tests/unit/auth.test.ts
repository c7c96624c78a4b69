// shared/auth: HS256 verification, rejections, admin detection, JWKS (asymmetric) verification,
// algorithm confusion, and the requireUser middleware.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Hono } from "hono";
import { requestId } from "hono/request-id";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWTPayload } from "jose";
import { createTokenVerifier, isAdminClaims, requireUser, TokenRejected, type TokenVerifier } from "../../shared/auth/index.ts";
import { errorHandler, type AppEnv } from "../../shared/http/index.ts";
import { createLogger } from "../../shared/log/index.ts";

const SECRET = "unit-auth-secret-that-is-at-least-32-chars";
const SUB = "3b241101-e2bb-4255-8caf-4136c566a962";
const now = () => Math.floor(Date.now() / 1000);
const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");

interface SignOpts {
  claims?: Record<string, unknown>;
  sub?: string | null;
  aud?: string | null;
  exp?: number | null;
  nbf?: number;
  secret?: string | Uint8Array;
}

async function hs256(o: SignOpts = {}): Promise<string> {
  const jwt = new SignJWT({ role: "authenticated", email: "a@example.test", aal: "aal1", ...o.claims })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt();
  if (o.sub !== null) jwt.setSubject(o.sub ?? SUB);
  if (o.aud !== null) jwt.setAudience(o.aud ?? "authenticated");
  if (o.exp !== null) jwt.setExpirationTime(o.exp ?? now() + 3600);
  if (o.nbf !== undefined) jwt.setNotBefore(o.nbf);
  const secret = o.secret ?? SECRET;
  return await jwt.sign(typeof secret === "string" ? new TextEncoder().encode(secret) : secret);
}

async function rejection(verify: TokenVerifier, token: string): Promise<string> {
  const err = await verify(token).then(() => null, (e: unknown) => e);
  expect(err, "token should have been rejected").toBeInstanceOf(TokenRejected);
  return (err as TokenRejected).reason;
}

describe("HS256 verifier", () => {
  const verify = createTokenVerifier({ jwtSecret: SECRET, audience: "authenticated" });

  it("accepts a valid token and maps its claims", async () => {
    const token = await hs256({ claims: { aal: "aal2", app_metadata: { provider: "email" }, user_metadata: { name: "A" } } });
    const u = await verify(token);
    expect(u.id).toBe(SUB);
    expect(u.email).toBe("a@example.test");
    expect(u.role).toBe("authenticated");
    expect(u.aal).toBe("aal2");
    expect(u.isAdmin).toBe(false);
    expect(u.appMetadata).toEqual({ provider: "email" });
    expect(u.userMetadata).toEqual({ name: "A" });
    expect(u.exp).toBeGreaterThan(now());
    expect(typeof u.iat).toBe("number");
    expect(u.claims.sub).toBe(SUB);
  });

  it("defaults: no email → null, no aal → aal1, no role → authenticated", async () => {
    const token = await hs256({ claims: { email: undefined, aal: undefined, role: undefined } });
    const u = await verify(token);
    expect(u.email).toBeNull();
    expect(u.aal).toBe("aal1");
    expect(u.role).toBe("authenticated");
  });

  it("rejects an expired token", async () => {
    expect(await rejection(verify, await hs256({ exp: now() - 120 }))).toBe("ERR_JWT_EXPIRED");
  });

  it("caps the lifetime: exp 1e308, or more than the configured maximum after iat, is refused", async () => {
    expect(await rejection(verify, await hs256({ exp: 1e308 }))).toMatch(/lifetime too long|ERR_JWT/);
    expect(await rejection(verify, await hs256({ exp: now() + 24 * 3600 + 120 }))).toBe("lifetime too long");
    await expect(verify(await hs256({ exp: now() + 24 * 3600 - 60 }))).resolves.toMatchObject({ id: SUB });
    const short = createTokenVerifier({ jwtSecret: SECRET, audience: "authenticated", maxLifetimeSeconds: 600 });
    expect(await rejection(short, await hs256({ exp: now() + 3600 }))).toBe("lifetime too long");
    await expect(short(await hs256({ exp: now() + 300 }))).resolves.toMatchObject({ id: SUB });
  });

  it("refuses iat in the future beyond the clock skew, and judges a token without iat from now", async () => {
    const { createHmac } = await import("node:crypto");
    const raw = (claims: Record<string, unknown>) => {
      const head = `${b64url({ alg: "HS256", typ: "JWT" })}.${b64url({ sub: SUB, aud: "authenticated", role: "authenticated", ...claims })}`;
      return `${head}.${createHmac("sha256", SECRET).update(head).digest("base64url")}`;
    };
    expect(await rejection(verify, raw({ iat: now() + 600, exp: now() + 3600 }))).toBe("iat in the future");
    await expect(verify(raw({ iat: now() + 30, exp: now() + 3600 }))).resolves.toMatchObject({ id: SUB });
    await expect(verify(raw({ exp: now() + 3600 }))).resolves.toMatchObject({ id: SUB });
    expect(await rejection(verify, raw({ exp: now() + 48 * 3600 }))).toBe("lifetime too long");
  });

  it("rejects a token without exp", async () => {
    expect(await rejection(verify, await hs256({ exp: null }))).toBe("exp missing");
  });

  it("rejects a token not yet valid (nbf in the future)", async () => {
    expect(await rejection(verify, await hs256({ nbf: now() + 3600 }))).toBe("ERR_JWT_CLAIM_VALIDATION_FAILED");
  });

  it("rejects a wrong or missing audience", async () => {
    expect(await rejection(verify, await hs256({ aud: "other" }))).toBe("ERR_JWT_CLAIM_VALIDATION_FAILED");
    expect(await rejection(verify, await hs256({ aud: null }))).toBe("ERR_JWT_CLAIM_VALIDATION_FAILED");
  });

  it("rejects a missing or non-uuid sub", async () => {
    expect(await rejection(verify, await hs256({ sub: null }))).toBe("sub missing");
    expect(await rejection(verify, await hs256({ sub: "not-a-uuid" }))).toBe("sub missing");
    expect(await rejection(verify, await hs256({ sub: `${SUB}x` }))).toBe("sub missing");
    expect(await rejection(verify, await hs256({ sub: "' or 1=1 --" }))).toBe("sub missing");
  });

  it("rejects the anon role", async () => {
    expect(await rejection(verify, await hs256({ claims: { role: "anon" } }))).toBe("anon role");
  });

  it("rejects alg none", async () => {
    const payload = { sub: SUB, aud: "authenticated", role: "authenticated", exp: now() + 3600 };
    expect(await rejection(verify, `${b64url({ alg: "none", typ: "JWT" })}.${b64url(payload)}.`)).toBe("algorithm not accepted");
    // and alg "HS256" with an empty signature
    expect(await rejection(verify, `${b64url({ alg: "HS256", typ: "JWT" })}.${b64url(payload)}.`)).not.toBe("");
  });

  it("rejects a bad signature (another secret, or a modified payload)", async () => {
    expect(await rejection(verify, await hs256({ secret: "another-secret-that-is-32-characters-long" })))
      .toBe("ERR_JWS_SIGNATURE_VERIFICATION_FAILED");
    const [h, , s] = (await hs256()).split(".");
    const forged = b64url({ sub: SUB, aud: "authenticated", role: "authenticated", exp: now() + 3600, app_metadata: { role: "admin" } });
    expect(await rejection(verify, `${h}.${forged}.${s}`)).toBe("ERR_JWS_SIGNATURE_VERIFICATION_FAILED");
  });

  it("rejects malformed tokens", async () => {
    for (const t of ["", "abc", "a.b.c", "....", `${b64url({ typ: "JWT" })}.e30.`, "eyJhbGciOiJIUzI1NiJ9.not-json.sig"]) {
      const reason = await rejection(verify, t);
      expect(reason.length).toBeGreaterThan(0);
    }
    expect(await rejection(verify, "abc")).toBe("malformed");
  });
});

describe("isAdmin", () => {
  const verify = createTokenVerifier({ jwtSecret: SECRET, audience: "authenticated" });
  const cases: [string, Record<string, unknown>, boolean][] = [
    ["top-level role", { role: "admin" }, true],
    ["app_metadata.role", { app_metadata: { role: "admin" } }, true],
    ["user_metadata.role", { user_metadata: { role: "admin" } }, true],
    ["app_metadata.roles[]", { app_metadata: { roles: ["editor", "admin"] } }, true],
    ["no admin anywhere", { app_metadata: { role: "editor", roles: ["editor"] }, user_metadata: { role: "user" } }, false],
    ["roles as a string, not an array", { app_metadata: { roles: "admin" } }, false],
    ["user_metadata.roles[] is not a seed location", { user_metadata: { roles: ["admin"] } }, false],
    ["case matters", { role: "Admin", app_metadata: { role: "ADMIN" } }, false],
    ["no metadata", {}, false],
  ];
  for (const [label, claims, expected] of cases) {
    it(`${label} → ${expected}`, async () => {
      expect(isAdminClaims(claims as JWTPayload)).toBe(expected);
      expect((await verify(await hs256({ claims }))).isAdmin).toBe(expected);
    });
  }
});

describe("asymmetric keys from a JWKS", () => {
  let server: Server;
  let jwksUrl: string;
  let rsa: CryptoKeyPair;
  let ec: CryptoKeyPair;
  let stranger: CryptoKeyPair;
  let publicPem: string;
  let jwksBody: string;
  let hits = 0;

  beforeAll(async () => {
    rsa = await generateKeyPair("RS256", { extractable: true });
    ec = await generateKeyPair("ES256", { extractable: true });
    stranger = await generateKeyPair("RS256", { extractable: true });
    publicPem = await exportSPKI(rsa.publicKey);
    jwksBody = JSON.stringify({
      keys: [
        { ...(await exportJWK(rsa.publicKey)), kid: "rsa-1", alg: "RS256", use: "sig" },
        { ...(await exportJWK(ec.publicKey)), kid: "ec-1", alg: "ES256", use: "sig" },
      ],
    });
    server = createServer((req, res) => {
      hits++;
      if (req.url === "/auth/v1/.well-known/jwks.json") {
        res.writeHead(200, { "content-type": "application/json" }).end(jwksBody);
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth/v1/.well-known/jwks.json`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const signAsym = (alg: string, kid: string, key: CryptoKey, claims: Record<string, unknown> = {}) =>
    new SignJWT({ role: "authenticated", email: "k@example.test", ...claims })
      .setProtectedHeader({ alg, kid, typ: "JWT" })
      .setSubject(SUB).setAudience("authenticated").setIssuedAt().setExpirationTime(now() + 600)
      .sign(key);

  it("verifies RS256 and ES256 tokens signed by keys in the JWKS", async () => {
    const verify = createTokenVerifier({ jwksUrl, audience: "authenticated" });
    const u = await verify(await signAsym("RS256", "rsa-1", rsa.privateKey, { app_metadata: { roles: ["admin"] } }));
    expect(u.id).toBe(SUB);
    expect(u.email).toBe("k@example.test");
    expect(u.isAdmin).toBe(true);
    expect((await verify(await signAsym("ES256", "ec-1", ec.privateKey))).id).toBe(SUB);
    expect(hits).toBeGreaterThan(0);
  });

  it("rejects a token signed by a key not in the JWKS, and expired asymmetric tokens", async () => {
    const verify = createTokenVerifier({ jwksUrl, audience: "authenticated" });
    await rejection(verify, await signAsym("RS256", "rsa-1", stranger.privateKey));
    await rejection(verify, await signAsym("RS256", "unknown-kid", stranger.privateKey));
    const expired = await new SignJWT({ role: "authenticated" }).setProtectedHeader({ alg: "RS256", kid: "rsa-1" })
      .setSubject(SUB).setAudience("authenticated").setExpirationTime(now() - 60).sign(rsa.privateKey);
    expect(await rejection(verify, expired)).toBe("ERR_JWT_EXPIRED");
  });

  it("algorithm confusion: HS256 signed with the public key as HMAC secret is rejected (JWKS only)", async () => {
    const verify = createTokenVerifier({ jwksUrl, audience: "authenticated" });
    const pemToken = await hs256({ secret: publicPem });
    expect(await rejection(verify, pemToken)).toBe("algorithm not accepted");
    const jwkBytes = new TextEncoder().encode(JSON.stringify(await exportJWK(rsa.publicKey)));
    expect(await rejection(verify, await hs256({ secret: jwkBytes }))).toBe("algorithm not accepted");
    // a kid pointing at the RSA key changes nothing
    const withKid = await new SignJWT({ role: "authenticated" }).setProtectedHeader({ alg: "HS256", kid: "rsa-1" })
      .setSubject(SUB).setAudience("authenticated").setExpirationTime(now() + 600).sign(new TextEncoder().encode(publicPem));
    expect(await rejection(verify, withKid)).toBe("algorithm not accepted");
  });

  it("algorithm confusion with both sources configured: the public-key-signed HS256 token still fails", async () => {
    const verify = createTokenVerifier({ jwtSecret: SECRET, jwksUrl, audience: "authenticated" });
    expect(await rejection(verify, await hs256({ secret: publicPem }))).toBe("ERR_JWS_SIGNATURE_VERIFICATION_FAILED");
    expect((await verify(await hs256())).id).toBe(SUB);
    expect((await verify(await signAsym("RS256", "rsa-1", rsa.privateKey))).id).toBe(SUB);
  });

  it("an RS256 token is rejected when only the HS secret is configured", async () => {
    const verify = createTokenVerifier({ jwtSecret: SECRET, audience: "authenticated" });
    expect(await rejection(verify, await signAsym("RS256", "rsa-1", rsa.privateKey))).toBe("algorithm not accepted");
  });

  it("an inline JWKS (SUPABASE_JWKS) verifies without fetching the JWKS URL", async () => {
    const before = hits;
    const verify = createTokenVerifier({ jwks: JSON.parse(jwksBody), jwksUrl, audience: "authenticated" });
    expect((await verify(await signAsym("ES256", "ec-1", ec.privateKey))).id).toBe(SUB);
    expect((await verify(await signAsym("RS256", "rsa-1", rsa.privateKey))).id).toBe(SUB);
    expect(hits).toBe(before);
    // signed by a key outside the set, under a kid the set holds: rejected, still no fetch
    expect(await rejection(verify, await signAsym("RS256", "rsa-1", stranger.privateKey))).toBe("ERR_JWS_SIGNATURE_VERIFICATION_FAILED");
    expect(hits).toBe(before);
  });

  it("a key id the inline JWKS lacks (a rotation since) is looked up at the JWKS URL", async () => {
    const onlyEc = { keys: [JSON.parse(jwksBody).keys[1]] };
    const before = hits;
    const verify = createTokenVerifier({ jwks: onlyEc, jwksUrl, audience: "authenticated" });
    expect((await verify(await signAsym("RS256", "rsa-1", rsa.privateKey))).id).toBe(SUB);
    expect(hits).toBeGreaterThan(before);
    // without a URL the unknown key id is refused
    const inlineOnly = createTokenVerifier({ jwks: onlyEc, audience: "authenticated" });
    expect(await rejection(inlineOnly, await signAsym("RS256", "rsa-1", rsa.privateKey))).toBe("ERR_JWKS_NO_MATCHING_KEY");
    expect((await inlineOnly(await signAsym("ES256", "ec-1", ec.privateKey))).id).toBe(SUB);
  });

  it("algorithm confusion with an inline JWKS: HS256 signed with the public key is refused", async () => {
    const verify = createTokenVerifier({ jwks: JSON.parse(jwksBody), audience: "authenticated" });
    expect(await rejection(verify, await hs256({ secret: publicPem }))).toBe("algorithm not accepted");
    const jwkBytes = new TextEncoder().encode(JSON.stringify(JSON.parse(jwksBody).keys[0]));
    expect(await rejection(verify, await hs256({ secret: jwkBytes }))).toBe("algorithm not accepted");
  });

  it("HS384/HS512 are not accepted even with the right secret", async () => {
    const verify = createTokenVerifier({ jwtSecret: SECRET, jwksUrl, audience: "authenticated" });
    for (const alg of ["HS384", "HS512"]) {
      const t = await new SignJWT({ role: "authenticated" }).setProtectedHeader({ alg }).setSubject(SUB)
        .setAudience("authenticated").setExpirationTime(now() + 600).sign(new TextEncoder().encode(SECRET));
      expect(await rejection(verify, t)).toBe("algorithm not accepted");
    }
  });
});

describe("requireUser middleware", () => {
  const logs: string[] = [];
  const logger = createLogger("debug", (l) => logs.push(l));
  const verify = createTokenVerifier({ jwtSecret: SECRET, audience: "authenticated" });
  const app = new Hono<AppEnv>();
  app.use("*", requestId({ headerName: "X-Request-Id" }));
  app.get("/me", requireUser(verify, logger), (c) => c.json({ id: c.get("user").id, admin: c.get("user").isAdmin }));
  app.onError(errorHandler(logger));

  async function expect401(headers: Record<string, string>) {
    const res = await app.request("/me", { headers });
    expect(res.status).toBe(401);
    const body = await res.json();
    expect(Object.keys(body).sort()).toEqual(["error", "requestId"]);
    expect(body.error).toBe("Authentication required");
    expect(body.requestId).toBe(res.headers.get("x-request-id"));
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    return res;
  }

  it("passes a valid bearer token through and sets the user", async () => {
    const res = await app.request("/me", { headers: { authorization: `Bearer ${await hs256()}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: SUB, admin: false });
  });

  it("401 without a header, with a non-Bearer scheme, with junk, and with a bad token", async () => {
    await expect401({});
    await expect401({ authorization: "Basic dXNlcjpwYXNz" });
    await expect401({ authorization: "Bearer" });
    await expect401({ authorization: "Bearer not a jwt" });
    const res = await expect401({ authorization: `Bearer ${await hs256({ exp: now() - 60 })}` });
    expect(res.headers.get("www-authenticate")).toContain("invalid_token");
    await expect401({ authorization: `Bearer ${await hs256({ claims: { role: "anon" } })}` });
  });

  it("the 401 body and logs never carry the token", async () => {
    logs.length = 0;
    const token = await hs256({ secret: "wrong-secret-that-is-still-32-characters" });
    const res = await app.request("/me", { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(401);
    expect(await res.text()).not.toContain(token.split(".")[2]);
    expect(logs.join("\n")).not.toContain(token.split(".")[2]);
    expect(logs.some((l) => JSON.parse(l).event === "auth.rejected")).toBe(true);
  });
});

describe("verified-token cache", () => {
  it("serves a repeated token from the cache but still rejects it once it has expired", async () => {
    const verify = createTokenVerifier({ jwtSecret: SECRET, audience: "authenticated" });
    const token = await hs256({ exp: now() + 60 });
    const first = await verify(token);
    expect(await verify(token)).toBe(first); // the same object: served from the cache
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(Date.now() + 120_000);
      expect(await rejection(verify, token)).toBeTruthy();
    } finally {
      vi.useRealTimers();
    }
  });
});
