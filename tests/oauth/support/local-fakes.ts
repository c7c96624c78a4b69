// One platform's fakes for a local run or an end-to-end test: the fake authorization server
// (auto-consenting: GET /authorize redirects straight back to redirect_uri with code and state)
// in the platform's client authentication style, and, for the four connectors, the fake social
// API accepting the tokens that server issued. `env` is what the functions need to use them.
import { PROVIDERS, type Platform } from "../../../shared/oauth/providers.ts";
import { startFakeAuthServer, type FakeAuthServer } from "./fake-auth-server.ts";
import { startFakeSocialApi, type FakeSocialApi } from "./fake-social-api.ts";
import { clientOf } from "./world.ts";

export interface LocalFakesOptions {
  /** Port of the authorization server (0: any free port); the API takes the next one (or any, with 0). */
  port?: number;
  /** Where the functions are served, e.g. http://127.0.0.1:54321/functions/v1 (for OAUTH_REDIRECT_URI). */
  functionsBase?: string;
  /** Prefixes a returnUrl may start with (OAUTH_ALLOWED_RETURN_URLS). */
  allowedReturnUrls?: string;
}

export interface LocalFakes {
  platform: Platform;
  auth: FakeAuthServer;
  /** null for a platform without a social-post connector. */
  api: FakeSocialApi | null;
  clientId: string;
  clientSecret: string;
  /** The variables to add to .env.local (or pass to the server). */
  env: Record<string, string>;
  close(): Promise<void>;
}

export const DEFAULT_FUNCTIONS_BASE = "http://127.0.0.1:54321/functions/v1";
export const DEFAULT_RETURN_URLS = "http://localhost:3000/";

export async function startLocalFakes(platform: Platform, o: LocalFakesOptions = {}): Promise<LocalFakes> {
  const def = PROVIDERS[platform];
  const client = { ...clientOf(platform), clientId: `${platform}-local-client`, clientSecret: `${platform}-local-secret` };
  const port = o.port ?? 0;
  const auth = await startFakeAuthServer(def.clientAuth, [client], port);
  let api: FakeSocialApi | null = null;
  try {
    if (def.connector) api = await startFakeSocialApi(def.connector, auth.isValidAccessToken, port === 0 ? 0 : port + 1);
  } catch (e) {
    await auth.close();
    throw e;
  }
  const P = platform.toUpperCase();
  const env: Record<string, string> = {
    [`${P}_CLIENT_ID`]: client.clientId,
    [`${P}_CLIENT_SECRET`]: client.clientSecret,
    [`${P}_AUTH_URL`]: `${auth.url}/authorize`,
    [`${P}_TOKEN_URL`]: `${auth.url}/token`,
    ...(def.revocationUrl ? { [`${P}_REVOKE_URL`]: `${auth.url}/revoke` } : {}),
    ...(api ? { [`${P}_API_BASE_URL`]: api.url } : {}),
    OAUTH_REDIRECT_URI: `${(o.functionsBase ?? DEFAULT_FUNCTIONS_BASE).replace(/\/+$/, "")}/oauth-callback/callback`,
    OAUTH_ALLOWED_RETURN_URLS: o.allowedReturnUrls ?? DEFAULT_RETURN_URLS,
  };
  return {
    platform, auth, api, clientId: client.clientId, clientSecret: client.clientSecret, env,
    close: async () => {
      await Promise.all([auth.close(), api?.close()]);
    },
  };
}
