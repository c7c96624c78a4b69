// social-post: one API over Buffer, Hootsuite, Later and Sprout Social with the user's own
// connection (oauth-callback). Tokens come from the user vault, refreshed first under the
// connection's lock when near expiry; a provider 401 gets one refresh, then 409 Reconnection
// required; 429 → 429 with Retry-After; 5xx/network → one retry, then 502. Every post is
// recorded in social_posts (never the token, never the text).
import { requireUser } from "../../shared/auth/index.ts";
import { createFunctionApp, createRouter } from "../../shared/http/index.ts";
import { httpOptions, type Deps } from "../../shared/runtime/deps.ts";
import { registerSocialRoutes } from "./routes/social.ts";

export function createApp(deps: Deps) {
  const { logger } = deps;
  const api = createRouter();
  registerSocialRoutes(api, deps, requireUser(deps.verifyToken, logger));
  return createFunctionApp(
    httpOptions("social-post", deps, { noStore: true }),
    api,
    { title: "social-post", description: "Post and schedule through Buffer, Hootsuite, Later and Sprout Social with the user's connections" },
  );
}
