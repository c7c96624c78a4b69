// GET /callback?code&state: the provider's browser redirect (no JWT: the state names the user).
// The state is consumed atomically (one UPDATE … WHERE used_at IS NULL AND unexpired: a replay
// loses the race), the code is exchanged with the sealed PKCE verifier, the tokens are sealed
// into the user vault with their audit row, and the browser goes back to the stored return URL
// with ?connected=<platform> or ?error=<code>&message=<text>. A missing, unknown, used or
// expired state gets a small HTML page, never a redirect (there is no trusted place to go).
// Nothing the provider says (error text, tokens) reaches the redirect, the page or a log line.
import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { open } from "../../../shared/crypto/index.ts";
import { clientIp, userAgent, type AppEnv, type Router } from "../../../shared/http/index.ts";
import { route } from "../../../shared/http/openapi.ts";
import {
  exchangeCode, KNOWN_OAUTH_ERRORS, OAuthFailure, platformSchema, resolveProvider, sha256Hex, storeTokens, withParams,
  type KnownOAuthError, type Platform,
} from "../../../shared/oauth/index.ts";
import { describeError } from "../../../shared/log/index.ts";
import type { Deps } from "../../../shared/runtime/deps.ts";
import { verifierAad } from "./start.ts";

/** The seed's messages (OAuthHandler.tsx), and one for everything else. */
export const CALLBACK_MESSAGES: Record<KnownOAuthError | "server_error", string> = {
  access_denied: "Authorization was cancelled by user",
  invalid_request: "Invalid authorization request",
  invalid_client: "Invalid client credentials",
  invalid_grant: "Invalid authorization grant",
  unsupported_response_type: "Unsupported response type",
  server_error: "The connection could not be completed. Please try again.",
};

const STATE_RE = /^[A-Za-z0-9_-]{43}$/;

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>Connection failed</title></head>
<body><h1>Connection failed</h1>
<p>This sign-in link is invalid or has expired. Close this window and start the connection again from the app.</p>
</body></html>`;

const param = (description: string) => z.string().optional().openapi({ description });

export const callbackRoute = route({
  method: "get",
  path: "/callback",
  operationId: "oauthCallback",
  summary: "The provider's browser redirect after consent (no JWT: the single-use state names the user)",
  auth: false,
  request: {
    query: z.object({
      state: param("The state POST /start put in the authorization URL (single use, 10 minutes)"),
      code: param("The authorization code, on success"),
      error: param("The provider's error code, on refusal (e.g. access_denied)"),
      error_description: param("The provider's text; ignored, never shown"),
    }),
  },
  responses: {
    302: {
      description: "Back to the return URL given to POST /start, with ?connected=<platform> or ?error=<code>&message=<text>",
      headers: {
        Location: { description: "The stored return URL with the outcome", schema: { type: "string", format: "uri" } },
      },
    },
    400: {
      description: "A missing, malformed, unknown, used or expired state: a small HTML page with a generic error, never a redirect",
      content: { "text/html": { schema: z.string() } },
    },
  },
});

interface StateRow {
  user_id: string;
  platform: Platform;
  return_url: string;
  verifier_encrypted: string | null;
  verifier_iv: string | null;
  key_version: number;
}

export function registerCallback(api: Router, deps: Deps) {
  const { db, keyring, logger, config } = deps;

  const page = (c: Context<AppEnv>, reason: string) => {
    logger.info("oauth.callback_rejected", { requestId: c.get("requestId"), reason });
    c.header("Cache-Control", "no-store");
    return c.html(PAGE, 400);
  };

  // Documented (public: security []), but never answered with the JSON 400 of the other routes:
  // whatever is wrong with the query, the browser gets the page.
  api.openapi(callbackRoute, async (c) => {
    const requestId = c.get("requestId");
    const state = c.req.query("state");
    if (!state || !STATE_RE.test(state)) return page(c, state ? "malformed_state" : "missing_state");
    const stateHash = await sha256Hex(state);
    const [row] = await db.withService((tx) => tx<StateRow[]>`
      update public.oauth_states set used_at = now()
      where state_hash = ${stateHash} and used_at is null and expires_at > now()
      returning user_id, platform, return_url, verifier_encrypted, verifier_iv, key_version`);
    if (!row) return page(c, "unknown_used_or_expired_state");
    const platform = platformSchema.parse(row.platform);

    const back = (code: KnownOAuthError | "server_error") => {
      logger.info("oauth.callback_failed", { requestId, platform, code });
      return c.redirect(withParams(row.return_url, { error: code, message: CALLBACK_MESSAGES[code] }), 302);
    };

    const providerError = c.req.query("error");
    if (providerError !== undefined) {
      return back((KNOWN_OAUTH_ERRORS as readonly string[]).includes(providerError) ? (providerError as KnownOAuthError) : "server_error");
    }
    if (!c.req.query("code")) return back("invalid_request");
    const provider = resolveProvider(config, platform);
    if (!provider) return back("server_error");

    let verifier: string | null = null;
    if (row.verifier_encrypted && row.verifier_iv) {
      try {
        verifier = await open(keyring, { encryptedValue: row.verifier_encrypted, iv: row.verifier_iv, keyVersion: row.key_version }, verifierAad(stateHash));
      } catch {
        return back("server_error");
      }
    }
    let tokens;
    try {
      tokens = await exchangeCode(provider, {
        params: new URL(c.req.url).searchParams, state, redirectUri: config.OAUTH_REDIRECT_URI, codeVerifier: verifier,
      }, { fetch: deps.fetch, timeoutMs: config.OAUTH_HTTP_TIMEOUT_MS, now: deps.now });
    } catch (err) {
      const f = err instanceof OAuthFailure ? err : new OAuthFailure("server_error", "upstream");
      logger.warn("oauth.exchange_failed", { requestId, platform, code: f.code, kind: f.kind, ...(err instanceof OAuthFailure ? {} : describeError(err)) });
      return back(f.kind === "upstream" ? "server_error" : f.code);
    }
    try {
      await db.withService((tx) => storeTokens(tx, keyring, row.user_id, provider, tokens, { ip: clientIp(c), userAgent: userAgent(c) }, false));
    } catch (err) {
      logger.error("oauth.store_failed", { requestId, platform, ...describeError(err) });
      return back("server_error");
    }
    logger.info("oauth.connected", { requestId, platform });
    return c.redirect(withParams(row.return_url, { connected: platform }), 302);
  }, (result, c) => (result.success ? undefined : page(c, "malformed_query")));
}
