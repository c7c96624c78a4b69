// Supabase JWT verification with jose: HS256 with the project secret, or asymmetric keys from
// the project's JWKS. The algorithm decides the key source, and each source accepts only its
// own algorithms, so an HS256 token can never be checked against a public key (alg confusion).
// The JWKS is read inline (SUPABASE_JWKS, set by the platform: no fetch on a cold start) and
// fetched from its URL only for a key id the inline set does not hold (a rotation since).
// jose's entry points one by one: its index loads every JWE/JWK module, ~5 ms of a cold start.
import { decodeProtectedHeader } from "jose/decode/protected_header";
import { createLocalJWKSet } from "jose/jwks/local";
import { createRemoteJWKSet } from "jose/jwks/remote";
import { jwtVerify } from "jose/jwt/verify";
import type { JSONWebKeySet, JWTPayload } from "jose";
import type { MiddlewareHandler } from "hono";
import type { PublicJwks } from "../config/index.ts";
import { ApiError } from "../http/errors.ts";
import type { Logger } from "../log/index.ts";
import { isUuid } from "../uuid/index.ts";

export interface AuthUser {
  id: string;
  email: string | null;
  role: string;
  appMetadata: Record<string, unknown>;
  userMetadata: Record<string, unknown>;
  exp: number;
  iat: number | null;
  /** Authenticator assurance level: "aal1", or "aal2" after multi-factor authentication. */
  aal: string;
  isAdmin: boolean;
  /** The verified claims, handed to Postgres as request.jwt.claims. */
  claims: JWTPayload;
}

export interface VerifierOptions {
  jwtSecret?: string;
  /** The project's public keys inline (SUPABASE_JWKS). */
  jwks?: PublicJwks;
  jwksUrl?: string;
  audience: string;
  /** exp - iat (or exp - now without iat) above this is refused: a leaked long-lived token stays leaked. */
  maxLifetimeSeconds?: number;
}

/** Clock skew tolerated for iat in the future. */
const CLOCK_SKEW_SECONDS = 60;

export type TokenVerifier = (token: string) => Promise<AuthUser>;

const ASYMMETRIC_ALGS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"];

export class TokenRejected extends Error {
  constructor(public readonly reason: string) {
    super(reason);
    this.name = "TokenRejected";
  }
}

/** Seed rule, in this order: role, app_metadata.role, user_metadata.role, app_metadata.roles[]. */
export function isAdminClaims(p: JWTPayload): boolean {
  const app = (p.app_metadata ?? {}) as Record<string, unknown>;
  const user = (p.user_metadata ?? {}) as Record<string, unknown>;
  if (p.role === "admin") return true;
  if (app.role === "admin") return true;
  if (user.role === "admin") return true;
  return Array.isArray(app.roles) && app.roles.includes("admin");
}

/**
 * Verified tokens, by their exact text (signature included), until they expire: frontends send
 * the same access token for up to an hour, and verifying it again proves nothing new.
 * exp/nbf are re-checked on every hit.
 */
class VerifiedTokenCache {
  private map = new Map<string, AuthUser>();
  constructor(private max = 10_000) {}
  get(token: string, nowSec: number): AuthUser | undefined {
    const u = this.map.get(token);
    if (!u) return undefined;
    const nbf = typeof u.claims.nbf === "number" ? u.claims.nbf : 0;
    if (u.exp <= nowSec || nbf > nowSec) {
      this.map.delete(token);
      return undefined;
    }
    return u;
  }
  set(token: string, user: AuthUser): void {
    if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value!);
    this.map.set(token, user);
  }
}

export function createTokenVerifier(opts: VerifierOptions): TokenVerifier {
  // Imported once; jose would otherwise import raw key bytes on every call.
  const secret = opts.jwtSecret
    ? crypto.subtle.importKey("raw", new TextEncoder().encode(opts.jwtSecret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"])
    : null;
  const cache = new VerifiedTokenCache();
  const inline = opts.jwks ? createLocalJWKSet(opts.jwks as JSONWebKeySet) : null;
  const remote = opts.jwksUrl
    ? createRemoteJWKSet(new URL(opts.jwksUrl), { cacheMaxAge: 10 * 60_000, cooldownDuration: 30_000 })
    : null;
  const asymmetric = { algorithms: ASYMMETRIC_ALGS, audience: opts.audience };
  const verifyAsymmetric = async (token: string) => {
    if (inline) {
      try {
        return await jwtVerify(token, inline, asymmetric);
      } catch (err) {
        if (!remote || (err as { code?: string }).code !== "ERR_JWKS_NO_MATCHING_KEY") throw err;
      }
    }
    return await jwtVerify(token, remote!, asymmetric);
  };

  return async (token: string) => {
    const cached = cache.get(token, Math.floor(Date.now() / 1000));
    if (cached) return cached;
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw new TokenRejected("malformed");
    }
    let payload: JWTPayload;
    try {
      if (alg === "HS256" && secret) {
        ({ payload } = await jwtVerify(token, await secret, { algorithms: ["HS256"], audience: opts.audience }));
      } else if (alg && ASYMMETRIC_ALGS.includes(alg) && (inline || remote)) {
        ({ payload } = await verifyAsymmetric(token));
      } else {
        throw new TokenRejected(`algorithm not accepted`);
      }
    } catch (err) {
      if (err instanceof TokenRejected) throw err;
      throw new TokenRejected((err as { code?: string }).code ?? "invalid");
    }
    if (typeof payload.sub !== "string" || !isUuid(payload.sub)) throw new TokenRejected("sub missing");
    if (typeof payload.exp !== "number") throw new TokenRejected("exp missing");
    const now = Math.floor(Date.now() / 1000);
    if (typeof payload.iat === "number" && payload.iat > now + CLOCK_SKEW_SECONDS) throw new TokenRejected("iat in the future");
    const maxLifetime = opts.maxLifetimeSeconds ?? 24 * 3600;
    if (payload.exp - (typeof payload.iat === "number" ? payload.iat : now) > maxLifetime) throw new TokenRejected("lifetime too long");
    const role = typeof payload.role === "string" ? payload.role : "authenticated";
    if (role === "anon") throw new TokenRejected("anon role");
    const user: AuthUser = {
      id: payload.sub,
      email: typeof payload.email === "string" ? payload.email : null,
      role,
      appMetadata: (payload.app_metadata ?? {}) as Record<string, unknown>,
      userMetadata: (payload.user_metadata ?? {}) as Record<string, unknown>,
      exp: payload.exp,
      iat: typeof payload.iat === "number" ? payload.iat : null,
      aal: typeof payload.aal === "string" ? payload.aal : "aal1",
      isAdmin: isAdminClaims(payload),
      claims: payload,
    };
    cache.set(token, user);
    return user;
  };
}

/** Hono middleware: a valid user JWT in `Authorization: Bearer …`, else 401 with a generic body. */
export function requireUser(verify: TokenVerifier, logger: Logger): MiddlewareHandler {
  return async (c, next) => {
    const header = c.req.header("authorization");
    const m = header ? /^Bearer\s+([A-Za-z0-9\-_=]+\.[A-Za-z0-9\-_=]+\.?[A-Za-z0-9\-_.+/=]*)$/i.exec(header.trim()) : null;
    if (!m) throw new ApiError("unauthorized", { "WWW-Authenticate": "Bearer" }, header ? "malformed authorization header" : "no authorization header");
    try {
      c.set("user", await verify(m[1]));
    } catch (err) {
      const reason = err instanceof TokenRejected ? err.reason : "verification error";
      logger.info("auth.rejected", { requestId: c.get("requestId"), reason });
      throw new ApiError("unauthorized", { "WWW-Authenticate": 'Bearer error="invalid_token"' }, reason);
    }
    await next();
  };
}

export { requireScheduler, schedulerCheck, type SchedulerAuthOptions } from "./scheduler.ts";
