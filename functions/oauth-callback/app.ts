// oauth-callback: connect a social tool with OAuth 2. POST /start (user JWT) records a
// single-use state server-side (hashed, bound to the user, platform and return URL, with the
// PKCE verifier sealed) and answers the provider's authorization URL; GET /callback (a browser
// redirect, verify_jwt = false) consumes the state atomically, exchanges the code and seals the
// tokens into the user vault; GET /connections, POST /refresh, POST /disconnect (user JWT).
import { requireUser } from "../../shared/auth/index.ts";
import { createFunctionApp, createRouter } from "../../shared/http/index.ts";
import { httpOptions, type Deps } from "../../shared/runtime/deps.ts";
import { registerCallback } from "./routes/callback.ts";
import { registerConnections } from "./routes/connections.ts";
import { registerStart } from "./routes/start.ts";

export function createApp(deps: Deps) {
  const { logger } = deps;
  const auth = requireUser(deps.verifyToken, logger);
  const api = createRouter();
  registerStart(api, deps, auth);
  registerCallback(api, deps);
  registerConnections(api, deps, auth);
  return createFunctionApp(
    httpOptions("oauth-callback", deps, { noStore: true }),
    api,
    {
      title: "oauth-callback",
      description: "Connect Buffer, Hootsuite, Later, Sprout Social, Facebook, Instagram, X, LinkedIn, YouTube and TikTok with OAuth 2 " +
        "(PKCE, single-use server-side state); tokens are sealed in the user vault and refreshed under a lock. " +
        "GET /callback is the provider's browser redirect: public (security: []), it answers 302 or an HTML page.",
    },
  );
}
