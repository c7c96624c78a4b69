// What the oauth-callback routes share: the user's rate limit, the platform schema, and the
// provider lookup that answers 501 for a platform without credentials.
import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { rateLimitHeaders, type StatementOptions } from "../../../shared/db/index.ts";
import { ApiError, type AppEnv } from "../../../shared/http/index.ts";
import { OAUTH_PLATFORMS, resolveProvider, type Platform, type ResolvedProvider } from "../../../shared/oauth/index.ts";
import type { Deps } from "../../../shared/runtime/deps.ts";

export type Ctx = Context<AppEnv>;

export const PlatformSchema = z.enum(OAUTH_PLATFORMS).openapi({ description: "The social tool", example: "buffer" });

export function providerOr501(deps: Deps, platform: Platform): ResolvedProvider {
  const p = resolveProvider(deps.config, platform);
  if (!p) throw new ApiError("provider_not_configured", {}, `${platform} has no client credentials`);
  return p;
}

export function limitOptions(deps: Deps, c: Ctx): StatementOptions {
  return {
    rateLimit: { key: `oauth:${c.get("user").id}`, limit: deps.config.OAUTH_RATE_LIMIT_PER_MINUTE, windowSeconds: 60 },
    onRateLimit: (s) => c.set("rateLimitHeaders", rateLimitHeaders(s)),
  };
}

export const respond = <T extends object>(c: Ctx, body: T) => c.json(body, 200, c.get("rateLimitHeaders") ?? {}) as never;
