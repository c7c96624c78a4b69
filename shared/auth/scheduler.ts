// Who may run a scheduled function (retention-cleanup, webhook-deliver): the platform scheduler
// with `Authorization: Bearer <CRON_SECRET>` (compared in constant time) or a service-role JWT
// (role claim service_role, signed with the project's JWT secret, or by a key of its JWKS; the
// algorithm picks the key source, as for user tokens). Anything else: 401, like a bad user token.
import { decodeProtectedHeader } from "jose/decode/protected_header";
import { createRemoteJWKSet } from "jose/jwks/remote";
import { jwtVerify } from "jose/jwt/verify";
import type { MiddlewareHandler } from "hono";
import { timingSafeEqual } from "../crypto/index.ts";
import { ApiError } from "../http/errors.ts";

export interface SchedulerAuthOptions {
  cronSecret?: string;
  jwtSecret?: string;
  jwksUrl?: string;
}

const ASYMMETRIC = ["RS256", "ES256", "EdDSA"];

export function schedulerCheck(o: SchedulerAuthOptions): (header: string | undefined) => Promise<boolean> {
  const secret = o.jwtSecret ? new TextEncoder().encode(o.jwtSecret) : null;
  const jwks = o.jwksUrl ? createRemoteJWKSet(new URL(o.jwksUrl)) : null;
  return async (header) => {
    const m = /^Bearer ([\x21-\x7e]{1,4096})$/i.exec(header?.trim() ?? "");
    if (!m) return false;
    const token = m[1];
    if (o.cronSecret && timingSafeEqual(token, o.cronSecret)) return true;
    if (token.split(".").length !== 3) return false;
    try {
      const alg = decodeProtectedHeader(token).alg;
      const { payload } = alg === "HS256" && secret
        ? await jwtVerify(token, secret, { algorithms: ["HS256"] })
        : alg && ASYMMETRIC.includes(alg) && jwks
        ? await jwtVerify(token, jwks, { algorithms: ASYMMETRIC })
        : { payload: null };
      return !!payload && payload.role === "service_role" && typeof payload.exp === "number";
    } catch {
      return false;
    }
  };
}

/** Route middleware: the scheduler only. */
export function requireScheduler(o: SchedulerAuthOptions): MiddlewareHandler {
  const check = schedulerCheck(o);
  return async (c, next) => {
    if (!(await check(c.req.header("authorization")))) {
      throw new ApiError("unauthorized", { "WWW-Authenticate": "Bearer" }, "neither CRON_SECRET nor a service-role token");
    }
    await next();
  };
}
