// Who may trigger a scheduled pass (webhook-deliver): the scheduler's `Authorization: Bearer
// <CRON_SECRET>` (compared in constant time) or a service-role JWT (role claim service_role,
// signed with the project's JWT secret). Anything else: 401, like a bad user token.
import type { MiddlewareHandler } from "hono";
import { jwtVerify } from "jose";
import { ApiError } from "../http/errors.ts";

export interface CronAuthOptions {
  cronSecret?: string;
  jwtSecret?: string;
}

function sameString(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i % (x.length || 1)] ?? 0) ^ (y[i % (y.length || 1)] ?? 0);
  return diff === 0;
}

export async function isCronCaller(header: string | undefined, o: CronAuthOptions): Promise<boolean> {
  const m = /^Bearer ([\x21-\x7e]{1,4096})$/.exec(header ?? "");
  if (!m) return false;
  const token = m[1];
  if (o.cronSecret && sameString(token, o.cronSecret)) return true;
  if (!o.jwtSecret || token.split(".").length !== 3) return false;
  try {
    const { payload } = await jwtVerify(token, new TextEncoder().encode(o.jwtSecret), { algorithms: ["HS256"] });
    return payload.role === "service_role" && typeof payload.exp === "number";
  } catch {
    return false;
  }
}

export function requireCron(o: CronAuthOptions): MiddlewareHandler {
  return async (c, next) => {
    if (!(await isCronCaller(c.req.header("authorization"), o))) throw new ApiError("unauthorized", {}, "not the scheduler");
    await next();
  };
}
