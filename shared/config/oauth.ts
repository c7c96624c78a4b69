// Variables of oauth-callback and social-post: client credentials, URLs, allowed return URLs. Merged into the one schema in ./index.ts.
// Per platform (BUFFER, HOOTSUITE, LATER, SPROUT_SOCIAL, FACEBOOK, INSTAGRAM, TWITTER, LINKEDIN, YOUTUBE, TIKTOK):
// <P>_CLIENT_ID / <P>_CLIENT_SECRET (a platform without both answers 501 "Provider not configured")
// and <P>_AUTH_URL / <P>_TOKEN_URL / <P>_REVOKE_URL / <P>_API_BASE_URL overriding the registry's
// URLs (shared/oauth/providers.ts), e.g. to point tests and local runs at fakes on 127.0.0.1.
import { z } from "zod";
import { csv, fastUrl, int, lazy, SKIP, text, type Var, type VarShape } from "./types.ts";

export const OAUTH_PLATFORMS = [
  "buffer", "hootsuite", "later", "sprout_social", "facebook", "instagram", "twitter", "linkedin", "youtube", "tiktok",
] as const;

/** An https URL without credentials, or http on a loopback host (local fakes). */
function endpointOk(v: string): boolean {
  const u = new URL(v);
  if (u.username || u.password) return false;
  return u.protocol === "https:" || (u.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(u.hostname));
}
/**
 * `abort`: a string that is no URL at all is reported as such, and the refinement (whose
 * `new URL` would throw) does not run.
 */
const endpoint = () =>
  lazy(() => z.string().url({ abort: true }).refine(endpointOk, "must be https (http only on 127.0.0.1/localhost)"), (v) =>
    fastUrl(v) !== SKIP && endpointOk(v) ? v : SKIP);

const clientId = () => text({ min: 1, max: 512 });
const clientSecret = () => text({ min: 1, max: 1024 });

const perPlatform: VarShape = {};
for (const p of OAUTH_PLATFORMS) {
  const P = p.toUpperCase();
  perPlatform[`${P}_CLIENT_ID`] = clientId().optional();
  perPlatform[`${P}_CLIENT_SECRET`] = clientSecret().optional();
  for (const k of ["AUTH_URL", "TOKEN_URL", "REVOKE_URL", "API_BASE_URL"]) perPlatform[`${P}_${k}`] = endpoint().optional();
}

type PlatformVars = {
  [K in Uppercase<(typeof OAUTH_PLATFORMS)[number]> as `${K}_${"CLIENT_ID" | "CLIENT_SECRET" | "AUTH_URL" | "TOKEN_URL" | "REVOKE_URL" | "API_BASE_URL"}`]:
    Var<z.ZodOptional<z.ZodString>>;
};

export const oauthConfig = {
  ...(perPlatform as unknown as PlatformVars),
  // The seed's names for Sprout Social's credentials (SPROUT_SOCIAL_* wins when both are set).
  SPROUT_CLIENT_ID: clientId().optional(),
  SPROUT_CLIENT_SECRET: clientSecret().optional(),
  // The callback URL registered with every provider (this function's GET /callback).
  OAUTH_REDIRECT_URI: endpoint().default("http://localhost:54321/functions/v1/oauth-callback/callback"),
  // Where a finished flow may send the browser: a returnUrl must start with one of these exactly.
  OAUTH_ALLOWED_RETURN_URLS: csv().default(["http://localhost:3000/", "http://localhost:5173/"]),
  OAUTH_STATE_TTL_SECONDS: int(60, 3600).default(600),
  // A token is refreshed when used this close to its expiry.
  OAUTH_REFRESH_MARGIN_SECONDS: int(0, 24 * 3600).default(900),
  // Time limit of one call to a provider (token endpoint or API), milliseconds.
  OAUTH_HTTP_TIMEOUT_MS: int(100, 60_000).default(4_000),
  OAUTH_RATE_LIMIT_PER_MINUTE: int(1, 1_000_000).default(30),
  SOCIAL_POST_RATE_LIMIT_PER_MINUTE: int(1, 1_000_000).default(30),
} satisfies VarShape;
