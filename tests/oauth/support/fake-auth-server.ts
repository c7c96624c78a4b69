// A fake OAuth 2 authorization server on 127.0.0.1 for one client authentication style
// (client_secret_basic or client_secret_post): GET /authorize redirects back with a code bound
// to the client, redirect URI and PKCE challenge; POST /token checks the client credentials in
// exactly that style, the code, the redirect URI and the S256 verifier, and issues tokens;
// refresh rotates refresh tokens when asked to (the old one then answers invalid_grant);
// POST /revoke records what was revoked. Failures can be scripted per endpoint.
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type AuthStyle = "basic" | "body";

export interface FakeClient {
  clientId: string;
  clientSecret: string;
  /**
   * The parameter this client's id must come in (authorization request, and token/revocation
   * bodies in body style); default client_id. TikTok's is client_key, and it then refuses a
   * request that names the client as client_id.
   */
  idParam?: string;
}

interface CodeGrant {
  clientId: string;
  redirectUri: string;
  challenge: string | null;
  method: string | null;
  scope: string;
  used: boolean;
}

export interface ScriptedFailure {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface TokenRequestRecord {
  grantType: string;
  clientId: string;
  body: string;
  authorization: string | undefined;
  contentType: string | undefined;
}

export interface FakeAuthServer {
  url: string;
  style: AuthStyle;
  /** Every /token request, raw. */
  tokenRequests: TokenRequestRecord[];
  /** Tokens revoked through /revoke, with their hint. */
  revoked: { token: string; hint: string | null }[];
  refreshCount(): number;
  /** Access tokens currently valid (the fake APIs check them). */
  isValidAccessToken(token: string): boolean;
  /** Make an access token invalid (as if the provider revoked it). */
  invalidateAccessToken(token: string): void;
  /** Make a refresh token invalid (as if the user revoked the app at the provider). */
  invalidateRefreshToken(token: string): void;
  /** Lifetime of issued access tokens, seconds (default 3600; null: no expires_in). */
  setExpiresIn(seconds: number | null): void;
  /** Rotate refresh tokens on refresh (default true). */
  setRotation(rotate: boolean): void;
  /** Delay /token answers (to widen races), ms. */
  setTokenDelay(ms: number): void;
  failNextToken(...f: ScriptedFailure[]): void;
  /** The next n /token requests get no answer at all (until close). */
  hangNextToken(n?: number): void;
  failNextRevoke(...f: ScriptedFailure[]): void;
  /** Issue a code directly (as /authorize would) for tests that skip the browser hop. */
  issueCode(g: Omit<CodeGrant, "used">): string;
  close(): Promise<void>;
}

const b64url = (buf: Buffer) => buf.toString("base64url");
const s256 = (v: string) => b64url(createHash("sha256").update(v).digest());

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** Listen on 127.0.0.1:port; a busy port rejects (instead of an unhandled error event). */
export function listen(server: Server, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
}

/** `port`: listen there (default: any free port), e.g. for tests/oauth/serve-fakes.ts. */
export async function startFakeAuthServer(style: AuthStyle, clients: FakeClient[], port = 0): Promise<FakeAuthServer> {
  const codes = new Map<string, CodeGrant>();
  const access = new Set<string>();
  const refresh = new Map<string, { clientId: string; scope: string }>();
  const tokenRequests: TokenRequestRecord[] = [];
  const revoked: { token: string; hint: string | null }[] = [];
  let tokenFailures: ScriptedFailure[] = [];
  let revokeFailures: ScriptedFailure[] = [];
  let expiresIn: number | null = 3600;
  let rotate = true;
  let delay = 0;
  let refreshes = 0;
  let hangs = 0;

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...headers });
    res.end(body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body));
  };
  const oauthError = (res: ServerResponse, status: number, error: string, description = "fake provider says no: SECRET-PROVIDER-TEXT") =>
    send(res, status, { error, error_description: description });

  /** The client named exactly by its own id parameter, and by no other. */
  const idOk = (c: FakeClient, q: URLSearchParams) => {
    const param = c.idParam ?? "client_id";
    return q.get(param) === c.clientId && (param === "client_id" || !q.has("client_id"));
  };

  /** The client, authenticated in exactly this server's style; null answers invalid_client. */
  const authenticate = (req: IncomingMessage, form: URLSearchParams): FakeClient | null => {
    const header = req.headers.authorization;
    if (style === "basic") {
      if (form.has("client_secret")) return null; // the other style
      const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(header ?? "");
      if (!m) return null;
      const [id, secret] = Buffer.from(m[1], "base64").toString("utf8").split(":").map(decodeURIComponent);
      return clients.find((c) => c.clientId === id && c.clientSecret === secret) ?? null;
    }
    if (header) return null;
    return clients.find((c) => idOk(c, form) && c.clientSecret === form.get("client_secret")) ?? null;
  };

  const issue = (clientId: string, scope: string) => {
    const at = `at_${b64url(randomBytes(18))}`;
    const rt = `rt_${b64url(randomBytes(18))}`;
    access.add(at);
    refresh.set(rt, { clientId, scope });
    return { at, rt };
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const body = await readBody(req);
    if (req.method === "GET" && url.pathname === "/authorize") {
      const q = url.searchParams;
      const client = clients.find((c) => idOk(c, q));
      const redirect = q.get("redirect_uri");
      if (!client || !redirect || q.get("response_type") !== "code") return send(res, 400, { error: "invalid_request" });
      const code = `code_${b64url(randomBytes(18))}`;
      codes.set(code, {
        clientId: client.clientId, redirectUri: redirect, challenge: q.get("code_challenge"), method: q.get("code_challenge_method"),
        scope: q.get("scope") ?? "", used: false,
      });
      const back = new URL(redirect);
      back.searchParams.set("code", code);
      if (q.get("state")) back.searchParams.set("state", q.get("state")!);
      res.writeHead(302, { location: back.href });
      return res.end();
    }
    if (req.method !== "POST" || !/^application\/x-www-form-urlencoded\b/.test(req.headers["content-type"] ?? "")) {
      return send(res, 404, { error: "not_found" });
    }
    const form = new URLSearchParams(body);
    if (url.pathname === "/token") {
      if (hangs > 0) {
        hangs--;
        tokenRequests.push({
          grantType: form.get("grant_type") ?? "", clientId: "", body, authorization: req.headers.authorization, contentType: req.headers["content-type"],
        });
        return; // never answered; closeAllConnections ends it
      }
      if (delay) await new Promise((r) => setTimeout(r, delay));
      const client = authenticate(req, form);
      tokenRequests.push({
        grantType: form.get("grant_type") ?? "", clientId: client?.clientId ?? "", body, authorization: req.headers.authorization,
        contentType: req.headers["content-type"],
      });
      const f = tokenFailures.shift();
      if (f) return send(res, f.status, f.body, f.headers);
      if (!client) return oauthError(res, 401, "invalid_client");
      if (form.get("grant_type") === "authorization_code") {
        const grant = codes.get(form.get("code") ?? "");
        if (!grant || grant.used || grant.clientId !== client.clientId) return oauthError(res, 400, "invalid_grant");
        grant.used = true;
        if (form.get("redirect_uri") !== grant.redirectUri) return oauthError(res, 400, "invalid_grant");
        const verifier = form.get("code_verifier");
        if (grant.challenge) {
          if (grant.method !== "S256" || !verifier || s256(verifier) !== grant.challenge) return oauthError(res, 400, "invalid_grant");
        } else if (verifier) {
          return oauthError(res, 400, "invalid_request");
        }
        const { at, rt } = issue(client.clientId, grant.scope);
        return send(res, 200, {
          access_token: at, refresh_token: rt, token_type: "Bearer", scope: grant.scope,
          ...(expiresIn === null ? {} : { expires_in: expiresIn }),
        });
      }
      if (form.get("grant_type") === "refresh_token") {
        const old = form.get("refresh_token") ?? "";
        const known = refresh.get(old);
        if (!known || known.clientId !== client.clientId) return oauthError(res, 400, "invalid_grant");
        refreshes++;
        const at = `at_${b64url(randomBytes(18))}`;
        access.add(at);
        let rt: string | undefined;
        if (rotate) {
          refresh.delete(old);
          rt = `rt_${b64url(randomBytes(18))}`;
          refresh.set(rt, known);
        }
        return send(res, 200, {
          access_token: at, token_type: "bearer", ...(rt ? { refresh_token: rt } : {}),
          ...(expiresIn === null ? {} : { expires_in: expiresIn }),
        });
      }
      return oauthError(res, 400, "unsupported_grant_type");
    }
    if (url.pathname === "/revoke") {
      const client = authenticate(req, form);
      const f = revokeFailures.shift();
      if (f) return send(res, f.status, f.body, f.headers);
      if (!client) return oauthError(res, 401, "invalid_client");
      const token = form.get("token") ?? "";
      revoked.push({ token, hint: form.get("token_type_hint") });
      access.delete(token);
      refresh.delete(token);
      return send(res, 200, undefined);
    }
    return send(res, 404, { error: "not_found" });
  });
  await listen(server, port);
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}`,
    style,
    tokenRequests,
    revoked,
    refreshCount: () => refreshes,
    isValidAccessToken: (t) => access.has(t),
    invalidateAccessToken: (t) => void access.delete(t),
    invalidateRefreshToken: (t) => void refresh.delete(t),
    setExpiresIn: (s) => void (expiresIn = s),
    setRotation: (r) => void (rotate = r),
    setTokenDelay: (ms) => void (delay = ms),
    failNextToken: (...f) => void tokenFailures.push(...f),
    failNextRevoke: (...f) => void revokeFailures.push(...f),
    hangNextToken: (n = 1) => void (hangs += n),
    issueCode: (g) => {
      const code = `code_${b64url(randomBytes(18))}`;
      codes.set(code, { ...g, used: false });
      return code;
    },
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}
