// Failed requests count against a route's rate limit too: otherwise a caller could flood the
// audit trail (or probe) with requests that fail before their transaction takes its hit.
import type { Context } from "hono";
import type { Db, RunOptions } from "../db/index.ts";
import { errorCodeOf, type AppEnv } from "./index.ts";

/** Wrap a route's limiter options so a committed hit is remembered on the context. */
export function remembered(c: Context<AppEnv>, o: RunOptions): RunOptions {
  return {
    ...o,
    onRateLimit: (s) => {
      c.set("rateLimitCounted", true);
      o.onRateLimit?.(s);
    },
  };
}

/**
 * After the route ran: if it failed (validation included) without committing its hit, take the
 * hit now, in a statement of its own. Over the limit, this throws 429, which replaces the
 * failure (and, since it throws first, nothing audits it).
 */
export async function countFailure(db: Db, c: Context<AppEnv>, o: RunOptions | undefined): Promise<void> {
  if (!o?.rateLimit || !c.error || c.get("rateLimitCounted") || errorCodeOf(c.error) === "rate_limited") return;
  await db.withService(async () => {}, remembered(c, o));
}
