// POST /start {platform, returnUrl}: a state of 32 random bytes, kept server-side only as its
// SHA-256 with the user, platform, return URL, sealed PKCE verifier and a 10-minute expiry.
import { z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { seal } from "../../../shared/crypto/index.ts";
import { ApiError, json, jsonBody, RESPONSE_HEADERS, route, type Router } from "../../../shared/http/index.ts";
import {
  authorizationUrl, isAllowedReturnUrl, newCodeVerifier, randomState, sha256Hex, usesPkce,
} from "../../../shared/oauth/index.ts";
import type { Deps } from "../../../shared/runtime/deps.ts";
import { limitOptions, PlatformSchema, providerOr501, respond } from "./common.ts";

const StartBody = z.object({
  platform: PlatformSchema,
  returnUrl: z.string().min(1).max(2048).openapi({ description: "Must start with one of OAUTH_ALLOWED_RETURN_URLS", example: "http://localhost:3000/settings/connections" }),
});
const StartResponse = z.object({ authorizationUrl: z.string().url() }).openapi("OAuthStart");

/** AAD of a sealed verifier: it opens only for the state it was written for. */
export const verifierAad = (stateHash: string) => `oauth_states:${stateHash}`;

export function registerStart(api: Router, deps: Deps, auth: MiddlewareHandler) {
  const { db, keyring, config } = deps;
  const { "Retry-After": _, ...RL } = RESPONSE_HEADERS;
  api.openapi(
    route({
      method: "post", path: "/start", operationId: "startOAuth", middleware: [auth] as const,
      summary: "Begin connecting a social tool: answers the provider's authorization URL",
      request: { body: jsonBody(StartBody) },
      errors: ["provider_not_configured", "rate_limited"],
      responses: { 200: json(StartResponse, "Send the browser to authorizationUrl", RL) },
    }),
    async (c) => {
      const { platform, returnUrl } = c.req.valid("json");
      if (!isAllowedReturnUrl(returnUrl, config.OAUTH_ALLOWED_RETURN_URLS)) {
        throw new ApiError("invalid_request", {}, "returnUrl not allowed", [{ in: "body", path: "returnUrl", code: "not_allowed" }]);
      }
      const provider = providerOr501(deps, platform);
      const state = randomState();
      const stateHash = await sha256Hex(state);
      const verifier = usesPkce(provider) ? newCodeVerifier() : null;
      const sealed = verifier ? await seal(keyring, verifier, verifierAad(stateHash)) : null;
      const uid = c.get("user").id;
      const expiresAt = new Date(deps.now().getTime() + config.OAUTH_STATE_TTL_SECONDS * 1000);
      await db.withUser(c.get("user"), async (tx) => {
        await Promise.all([
          tx`insert into public.oauth_states (state_hash, user_id, platform, return_url, verifier_encrypted, verifier_iv, key_version, expires_at)
             values (${stateHash}, ${uid}, ${platform}, ${returnUrl}, ${sealed?.encryptedValue ?? null}, ${sealed?.iv ?? null},
                     ${sealed?.keyVersion ?? keyring.currentVersion}, ${expiresAt})`,
          // Housekeeping: this user's flows that ended or expired a day ago.
          tx`delete from public.oauth_states where user_id = ${uid} and expires_at < now() - interval '1 day'`,
        ]);
      }, limitOptions(deps, c));
      const url = await authorizationUrl(provider, { state, redirectUri: config.OAUTH_REDIRECT_URI, codeVerifier: verifier });
      deps.logger.info("oauth.started", { requestId: c.get("requestId"), platform, pkce: verifier !== null });
      return respond(c, { authorizationUrl: url });
    },
  );
}
