// The providers as data (Nango's providers.yaml is the model): one validated row per platform.
// Everything a flow needs is here (endpoints, client authentication, scopes, PKCE, extra
// authorization parameters, how refresh works, the API base URL); code reads rows, never
// branches on a platform's name. URLs are overridable from the environment (<P>_AUTH_URL, …).
import { z } from "zod";
import type { Config } from "../config/index.ts";
import { OAUTH_PLATFORMS } from "../config/oauth.ts";
import type { ServiceName } from "../secrets/index.ts";

export { OAUTH_PLATFORMS };
export type Platform = (typeof OAUTH_PLATFORMS)[number];
export const platformSchema = z.enum(OAUTH_PLATFORMS);

const httpsUrl = z.string().url().startsWith("https://");

export const ProviderSchema = z.object({
  displayName: z.string().min(1),
  authorizationUrl: httpsUrl,
  tokenUrl: httpsUrl,
  /** RFC 7009 revocation endpoint, where the provider has one. */
  revocationUrl: httpsUrl.nullable(),
  /** client_secret_post (body) or client_secret_basic (basic). */
  clientAuth: z.enum(["body", "basic"]),
  /**
   * The name under which the client id is sent (authorization request, and the token and
   * revocation bodies with body authentication). RFC 6749 says client_id; TikTok says client_key.
   */
  clientIdParam: z.string().regex(/^[a-z][a-z0-9_]*$/),
  scopes: z.array(z.string().min(1)),
  scopeSeparator: z.enum([" ", ","]),
  /** required: refuse to run without it; supported: always S256; none: the provider rejects it. */
  pkce: z.enum(["required", "supported", "none"]),
  authorizationParams: z.record(z.string(), z.string()),
  /** rotating: each refresh may return a new refresh token (stored); none: tokens are long-lived. */
  refresh: z.enum(["standard", "rotating", "none"]),
  apiBaseUrl: httpsUrl,
  /** The wire format social-post speaks to this platform, if it posts through it. */
  connector: z.enum(["buffer", "hootsuite", "later", "sprout_social"]).nullable(),
}).strict();
export type ProviderDef = z.infer<typeof ProviderSchema>;

const REGISTRY_DATA = {
  buffer: {
    displayName: "Buffer",
    authorizationUrl: "https://bufferapp.com/oauth2/authorize",
    tokenUrl: "https://api.bufferapp.com/1/oauth2/token.json",
    revocationUrl: null,
    clientAuth: "body",
    clientIdParam: "client_id",
    scopes: [],
    scopeSeparator: " ",
    pkce: "none",
    authorizationParams: {},
    refresh: "none",
    apiBaseUrl: "https://api.bufferapp.com",
    connector: "buffer",
  },
  hootsuite: {
    displayName: "Hootsuite",
    authorizationUrl: "https://platform.hootsuite.com/oauth2/auth",
    tokenUrl: "https://platform.hootsuite.com/oauth2/token",
    revocationUrl: "https://platform.hootsuite.com/oauth2/revoke",
    clientAuth: "basic",
    clientIdParam: "client_id",
    scopes: ["offline"],
    scopeSeparator: " ",
    pkce: "supported",
    authorizationParams: {},
    refresh: "rotating",
    apiBaseUrl: "https://platform.hootsuite.com",
    connector: "hootsuite",
  },
  later: {
    displayName: "Later",
    authorizationUrl: "https://api.later.com/v1/oauth/authorize",
    tokenUrl: "https://api.later.com/v1/oauth/token",
    revocationUrl: "https://api.later.com/v1/oauth/revoke",
    clientAuth: "body",
    clientIdParam: "client_id",
    scopes: ["read", "write"],
    scopeSeparator: " ",
    pkce: "supported",
    authorizationParams: {},
    refresh: "standard",
    apiBaseUrl: "https://api.later.com",
    connector: "later",
  },
  sprout_social: {
    displayName: "Sprout Social",
    authorizationUrl: "https://sproutsocial.com/oauth/authorize",
    tokenUrl: "https://api.sproutsocial.com/oauth/token",
    revocationUrl: null,
    clientAuth: "basic",
    clientIdParam: "client_id",
    scopes: ["write"],
    scopeSeparator: " ",
    pkce: "supported",
    authorizationParams: {},
    refresh: "standard",
    apiBaseUrl: "https://api.sproutsocial.com",
    connector: "sprout_social",
  },
  facebook: {
    displayName: "Facebook",
    authorizationUrl: "https://www.facebook.com/v21.0/dialog/oauth",
    tokenUrl: "https://graph.facebook.com/v21.0/oauth/access_token",
    revocationUrl: null,
    clientAuth: "body",
    clientIdParam: "client_id",
    scopes: ["public_profile", "pages_show_list", "pages_manage_posts", "pages_read_engagement"],
    scopeSeparator: ",",
    pkce: "supported",
    authorizationParams: {},
    refresh: "none",
    apiBaseUrl: "https://graph.facebook.com",
    connector: null,
  },
  instagram: {
    displayName: "Instagram",
    authorizationUrl: "https://www.instagram.com/oauth/authorize",
    tokenUrl: "https://api.instagram.com/oauth/access_token",
    revocationUrl: null,
    clientAuth: "body",
    clientIdParam: "client_id",
    scopes: ["instagram_business_basic", "instagram_business_content_publish"],
    scopeSeparator: ",",
    pkce: "none",
    authorizationParams: {},
    refresh: "none",
    apiBaseUrl: "https://graph.instagram.com",
    connector: null,
  },
  twitter: {
    displayName: "X",
    authorizationUrl: "https://x.com/i/oauth2/authorize",
    tokenUrl: "https://api.x.com/2/oauth2/token",
    revocationUrl: "https://api.x.com/2/oauth2/revoke",
    clientAuth: "basic",
    clientIdParam: "client_id",
    scopes: ["tweet.read", "tweet.write", "users.read", "offline.access"],
    scopeSeparator: " ",
    pkce: "required",
    authorizationParams: {},
    refresh: "rotating",
    apiBaseUrl: "https://api.x.com",
    connector: null,
  },
  linkedin: {
    displayName: "LinkedIn",
    authorizationUrl: "https://www.linkedin.com/oauth/v2/authorization",
    tokenUrl: "https://www.linkedin.com/oauth/v2/accessToken",
    revocationUrl: "https://www.linkedin.com/oauth/v2/revoke",
    clientAuth: "body",
    clientIdParam: "client_id",
    scopes: ["openid", "profile", "w_member_social"],
    scopeSeparator: " ",
    pkce: "none",
    authorizationParams: {},
    refresh: "standard",
    apiBaseUrl: "https://api.linkedin.com",
    connector: null,
  },
  youtube: {
    displayName: "YouTube",
    authorizationUrl: "https://accounts.google.com/o/oauth2/v2/auth",
    tokenUrl: "https://oauth2.googleapis.com/token",
    revocationUrl: "https://oauth2.googleapis.com/revoke",
    clientAuth: "body",
    clientIdParam: "client_id",
    scopes: ["https://www.googleapis.com/auth/youtube.upload", "https://www.googleapis.com/auth/youtube.readonly"],
    scopeSeparator: " ",
    pkce: "supported",
    // Google issues a refresh token only with offline access, and again only with consent.
    authorizationParams: { access_type: "offline", prompt: "consent", include_granted_scopes: "true" },
    refresh: "standard",
    apiBaseUrl: "https://www.googleapis.com",
    connector: null,
  },
  tiktok: {
    displayName: "TikTok",
    authorizationUrl: "https://www.tiktok.com/v2/auth/authorize/",
    tokenUrl: "https://open.tiktokapis.com/v2/oauth/token/",
    revocationUrl: "https://open.tiktokapis.com/v2/oauth/revoke/",
    clientAuth: "body",
    clientIdParam: "client_key",
    scopes: ["user.info.basic", "video.publish"],
    scopeSeparator: ",",
    pkce: "supported",
    authorizationParams: {},
    refresh: "rotating",
    apiBaseUrl: "https://open.tiktokapis.com",
    connector: null,
  },
} satisfies Record<Platform, ProviderDef>;

/**
 * The registry. Its rows are code: TypeScript checks their shape, and ProviderSchema's finer
 * rules (https URLs, parameter names) are checked by tests/oauth/registry.test.ts, so a malformed
 * row fails CI rather than a start. Parsing it with zod at every start cost ~6 ms of a cold start.
 */
export const PROVIDERS: Readonly<Record<Platform, ProviderDef>> = Object.freeze(
  Object.fromEntries(OAUTH_PLATFORMS.map((p) => [p, Object.freeze(REGISTRY_DATA[p])])) as Record<Platform, ProviderDef>,
);

export const serviceNameOf = (p: Platform) => `${p}_oauth_token` as ServiceName;
const envPrefix = (p: Platform) => p.toUpperCase();

/** A provider with this deployment's credentials and URL overrides applied. */
export interface ResolvedProvider extends ProviderDef {
  platform: Platform;
  serviceName: ServiceName;
  clientId: string;
  clientSecret: string;
}

type Env = Record<string, unknown>;

/** The provider as configured, or null when its client id or secret is missing. */
export function resolveProvider(config: Config, platform: Platform): ResolvedProvider | null {
  const env = config as unknown as Env;
  const P = envPrefix(platform);
  const pick = (k: string) => (typeof env[k] === "string" ? (env[k] as string) : undefined);
  const clientId = pick(`${P}_CLIENT_ID`) ?? (platform === "sprout_social" ? pick("SPROUT_CLIENT_ID") : undefined);
  const clientSecret = pick(`${P}_CLIENT_SECRET`) ?? (platform === "sprout_social" ? pick("SPROUT_CLIENT_SECRET") : undefined);
  if (!clientId || !clientSecret) return null;
  const def = PROVIDERS[platform];
  return {
    ...def,
    authorizationUrl: pick(`${P}_AUTH_URL`) ?? def.authorizationUrl,
    tokenUrl: pick(`${P}_TOKEN_URL`) ?? def.tokenUrl,
    revocationUrl: pick(`${P}_REVOKE_URL`) ?? def.revocationUrl,
    apiBaseUrl: pick(`${P}_API_BASE_URL`) ?? def.apiBaseUrl,
    platform,
    serviceName: serviceNameOf(platform),
    clientId,
    clientSecret,
  };
}

export function isConfigured(config: Config, platform: Platform): boolean {
  return resolveProvider(config, platform) !== null;
}
