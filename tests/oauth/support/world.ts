// The OAuth test world: two fake authorization servers (client_secret_basic and
// client_secret_post), every platform configured against the one matching its registry row,
// and the environment that points the functions at them.
import { OAUTH_PLATFORMS, PROVIDERS, type Platform } from "../../../shared/oauth/providers.ts";
import { startFakeAuthServer, type FakeAuthServer, type FakeClient } from "./fake-auth-server.ts";

export const RETURN_BASE = "https://app.example.com/";
export const REDIRECT_URI = "http://localhost/functions/v1/oauth-callback/callback";

/** What each provider expects; TikTok names its client id client_key (its documentation, not our registry). */
const ID_PARAM: Partial<Record<Platform, string>> = { tiktok: "client_key" };

export const clientOf = (p: Platform): FakeClient => ({
  clientId: `${p}-client-id`, clientSecret: `${p}-client-secret-CANARY`, ...(ID_PARAM[p] ? { idParam: ID_PARAM[p] } : {}),
});

export interface OAuthWorld {
  basic: FakeAuthServer;
  body: FakeAuthServer;
  serverOf(p: Platform): FakeAuthServer;
  env(extra?: Record<string, string>, without?: Platform[]): Record<string, string>;
  close(): Promise<void>;
}

export async function startOAuthWorld(): Promise<OAuthWorld> {
  const clients = OAUTH_PLATFORMS.map(clientOf);
  const basic = await startFakeAuthServer("basic", clients);
  const body = await startFakeAuthServer("body", clients);
  const serverOf = (p: Platform) => (PROVIDERS[p].clientAuth === "basic" ? basic : body);
  return {
    basic,
    body,
    serverOf,
    env: (extra = {}, without = []) => {
      const env: Record<string, string> = {
        OAUTH_REDIRECT_URI: REDIRECT_URI,
        OAUTH_ALLOWED_RETURN_URLS: `${RETURN_BASE},http://localhost:3000/app`,
        OAUTH_RATE_LIMIT_PER_MINUTE: "10000",
        SOCIAL_POST_RATE_LIMIT_PER_MINUTE: "10000",
      };
      for (const p of OAUTH_PLATFORMS) {
        if (without.includes(p)) continue;
        const P = p.toUpperCase();
        const s = serverOf(p);
        env[`${P}_CLIENT_ID`] = clientOf(p).clientId;
        env[`${P}_CLIENT_SECRET`] = clientOf(p).clientSecret;
        env[`${P}_AUTH_URL`] = `${s.url}/authorize`;
        env[`${P}_TOKEN_URL`] = `${s.url}/token`;
        if (PROVIDERS[p].revocationUrl) env[`${P}_REVOKE_URL`] = `${s.url}/revoke`;
      }
      return { ...env, ...extra };
    },
    close: async () => {
      await Promise.all([basic.close(), body.close()]);
    },
  };
}
