// The OAuth 2 protocol through oauth4webapi (RFC 6749, 7636 PKCE, 7009 revocation): the
// authorization URL, the code exchange, refresh and revocation for one registry row. Nothing
// here logs, and nothing a provider says (error text, token) leaves as anything but a code.
import * as oauth from "oauth4webapi";
import { currentDeadline } from "../http/deadline.ts";
import type { ResolvedProvider } from "./providers.ts";

export interface TokenSet {
  access_token: string;
  refresh_token: string | null;
  /** ISO time, or null when the provider gave no lifetime. */
  expires_at: string | null;
  scope: string | null;
  token_type: string;
}

export interface ProtocolOptions {
  fetch: typeof fetch;
  timeoutMs: number;
  now: () => Date;
}

/** The error codes of RFC 6749 §4.1.2.1 / §5.2 we name to the user; anything else is generic. */
export const KNOWN_OAUTH_ERRORS = ["access_denied", "invalid_request", "invalid_client", "invalid_grant", "unsupported_response_type"] as const;
export type KnownOAuthError = (typeof KNOWN_OAUTH_ERRORS)[number];

/** A failure of a token endpoint call, as a code only (never the provider's text). */
export class OAuthFailure extends Error {
  constructor(
    /** The provider's error code when it is one we know, else "server_error". */
    public readonly code: KnownOAuthError | "server_error",
    /** upstream: the provider did not answer properly (5xx, network, malformed); oauth: it refused. */
    public readonly kind: "oauth" | "upstream",
  ) {
    super(`oauth ${kind} failure: ${code}`);
    this.name = "OAuthFailure";
  }
}

function authorizationServer(p: ResolvedProvider): oauth.AuthorizationServer {
  return {
    issuer: new URL(p.authorizationUrl).origin,
    authorization_endpoint: p.authorizationUrl,
    token_endpoint: p.tokenUrl,
    ...(p.revocationUrl ? { revocation_endpoint: p.revocationUrl } : {}),
  };
}

const clientOf = (p: ResolvedProvider): oauth.Client => ({ client_id: p.clientId });
/**
 * The client authentication of the registry row. Body authentication under another name than
 * client_id (TikTok's client_key) is oauth4webapi's client_secret_post with that name: the
 * library sets client_id only here, in the ClientAuth, for token and revocation requests.
 */
function clientAuthOf(p: ResolvedProvider): oauth.ClientAuth {
  if (p.clientAuth === "basic") return oauth.ClientSecretBasic(p.clientSecret);
  if (p.clientIdParam === "client_id") return oauth.ClientSecretPost(p.clientSecret);
  return (_as, client, body) => {
    body.set(p.clientIdParam, client.client_id);
    body.set("client_secret", p.clientSecret);
  };
}

function requestOptions(p: ResolvedProvider, o: ProtocolOptions, signal: AbortSignal) {
  // Plain http only for endpoints on a loopback host (validated in the config): local fakes.
  const insecure = [p.tokenUrl, p.revocationUrl ?? ""].some((u) => u.startsWith("http:"));
  return {
    [oauth.customFetch]: o.fetch,
    [oauth.allowInsecureRequests]: insecure,
    signal,
  };
}

/**
 * One call to a provider endpoint, request and answer body together, bounded by `timeoutMs`
 * whatever the fetch does with its signal (the signal aborts the request; the race answers even
 * if it does not), with the request's deadline paused meanwhile (the call has this timeout of
 * its own; the database budget starts again after it). A timeout is an upstream failure.
 */
export async function bounded<T>(timeoutMs: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ac.abort(new DOMException("provider call timed out", "TimeoutError"));
      reject(new OAuthFailure("server_error", "upstream"));
    }, Math.max(0, timeoutMs));
  });
  const d = currentDeadline();
  d?.suspend();
  try {
    const work = fn(ac.signal);
    work.catch(() => {}); // after a timeout it is no longer listened to
    return await Promise.race([work, timedOut]);
  } finally {
    clearTimeout(timer);
    d?.resume();
  }
}

/** S256 code challenge, and whether this provider gets one. */
export const usesPkce = (p: ResolvedProvider) => p.pkce !== "none";
export const newCodeVerifier = () => oauth.generateRandomCodeVerifier();

export async function authorizationUrl(
  p: ResolvedProvider, a: { state: string; redirectUri: string; codeVerifier: string | null },
): Promise<string> {
  const url = new URL(p.authorizationUrl);
  url.searchParams.set("response_type", "code");
  url.searchParams.set(p.clientIdParam, p.clientId);
  url.searchParams.set("redirect_uri", a.redirectUri);
  if (p.scopes.length) url.searchParams.set("scope", p.scopes.join(p.scopeSeparator));
  url.searchParams.set("state", a.state);
  if (a.codeVerifier) {
    url.searchParams.set("code_challenge", await oauth.calculatePKCECodeChallenge(a.codeVerifier));
    url.searchParams.set("code_challenge_method", "S256");
  }
  for (const [k, v] of Object.entries(p.authorizationParams)) url.searchParams.set(k, v);
  return url.href;
}

function toTokenSet(r: oauth.TokenEndpointResponse, now: Date, previous?: { refresh_token: string | null; scope: string | null }): TokenSet {
  return {
    access_token: r.access_token,
    // A provider that does not rotate leaves the refresh token out of a refresh answer: keep ours.
    refresh_token: r.refresh_token ?? previous?.refresh_token ?? null,
    expires_at: typeof r.expires_in === "number" ? new Date(now.getTime() + r.expires_in * 1000).toISOString() : null,
    scope: r.scope ?? previous?.scope ?? null,
    token_type: r.token_type,
  };
}

function classify(err: unknown): OAuthFailure {
  if (err instanceof OAuthFailure) return err;
  if (err instanceof oauth.ResponseBodyError) {
    const code = (KNOWN_OAUTH_ERRORS as readonly string[]).includes(err.error) ? (err.error as KnownOAuthError) : "server_error";
    // A 5xx that carries an OAuth error body is still the provider failing, not refusing.
    return new OAuthFailure(code, err.status >= 500 ? "upstream" : "oauth");
  }
  return new OAuthFailure("server_error", "upstream");
}

/** Exchange an authorization code (validated callback parameters) with the PKCE verifier. */
export async function exchangeCode(
  p: ResolvedProvider, a: { params: URLSearchParams; state: string; redirectUri: string; codeVerifier: string | null }, o: ProtocolOptions,
): Promise<TokenSet> {
  const as = authorizationServer(p), client = clientOf(p);
  try {
    const params = oauth.validateAuthResponse(as, client, a.params, a.state);
    return await bounded(o.timeoutMs, async (signal) => {
      const res = await oauth.authorizationCodeGrantRequest(
        as, client, clientAuthOf(p), params, a.redirectUri, a.codeVerifier ?? oauth.nopkce, requestOptions(p, o, signal),
      );
      return toTokenSet(await oauth.processAuthorizationCodeResponse(as, client, res), o.now());
    });
  } catch (err) {
    if (err instanceof oauth.AuthorizationResponseError) {
      const code = err.error;
      throw new OAuthFailure((KNOWN_OAUTH_ERRORS as readonly string[]).includes(code) ? (code as KnownOAuthError) : "server_error", "oauth");
    }
    throw classify(err);
  }
}

export async function refreshTokens(
  p: ResolvedProvider, previous: { refresh_token: string; scope: string | null }, o: ProtocolOptions,
): Promise<TokenSet> {
  const as = authorizationServer(p), client = clientOf(p);
  try {
    return await bounded(o.timeoutMs, async (signal) => {
      const res = await oauth.refreshTokenGrantRequest(as, client, clientAuthOf(p), previous.refresh_token, requestOptions(p, o, signal));
      return toTokenSet(await oauth.processRefreshTokenResponse(as, client, res), o.now(), previous);
    });
  } catch (err) {
    throw classify(err);
  }
}

/** RFC 7009 revocation; resolves false when the provider has no endpoint. Throws OAuthFailure. */
export async function revokeToken(p: ResolvedProvider, token: string, hint: "refresh_token" | "access_token", o: ProtocolOptions): Promise<boolean> {
  if (!p.revocationUrl) return false;
  const as = authorizationServer(p), client = clientOf(p);
  try {
    await bounded(o.timeoutMs, async (signal) => {
      const res = await oauth.revocationRequest(as, client, clientAuthOf(p), token, { ...requestOptions(p, o, signal), additionalParameters: { token_type_hint: hint } });
      await oauth.processRevocationResponse(res);
    });
    return true;
  } catch (err) {
    throw classify(err);
  }
}
