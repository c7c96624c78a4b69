// The HTTP frame every function shares: request id, security headers, CORS, body limit,
// one JSON error shape, and mounting under both /functions/v1/<name> (local, Supabase URL
// layout) and /<name> (the path the Supabase edge runtime hands to a function).
import { Hono, type Context, type MiddlewareHandler, type Next } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { AuthUser } from "../auth/index.ts";
import { describeError, type Logger } from "../log/index.ts";
import { isUuid } from "../uuid/index.ts";
import type { TenantScope } from "../tenancy/gate.ts";
import { ApiError, errorCatalog, type ErrorCode, type Issue } from "./errors.ts";
import { requestDeadline } from "./deadline.ts";
import type { RequestMonitor } from "../security/monitor.ts";

export { currentDeadline } from "./deadline.ts";
export { countFailure, remembered } from "./limits.ts";
import type { Router } from "./openapi.ts";

export { ApiError, errorCatalog, type ErrorCode, type Issue } from "./errors.ts";
export { createRouter, errorResponses, ErrorSchema, json, jsonBody, route, RESPONSE_HEADERS, type Router } from "./openapi.ts";

export type AppEnv = {
  Variables: {
    requestId: string;
    user: AuthUser;
    /** Set by the tenant gate (shared/tenancy/gate.ts) on routes that act for a distributor. */
    tenant: TenantScope;
    /** The caller's address, from the platform's trusted header only (see clientIp). */
    clientIp: string | null;
    rateLimitHeaders?: Record<string, string>;
    /** This request's rate-limit hit has been committed (a failure must not be counted twice). */
    rateLimitCounted?: boolean;
  };
};

export interface HttpOptions {
  /** Function name: the app answers under /functions/v1/<name> and /<name>. */
  name: string;
  logger: Logger;
  corsAllowedOrigins: string[];
  maxBodyBytes: number;
  /** Extra request headers a browser may send (beyond what supabase-js sends). */
  extraAllowHeaders?: string[];
  /** Request deadline in ms (default REQUEST_DEADLINE_MS, see shared/http/deadline.ts). */
  deadlineMs?: number;
  /** Where the client address comes from (default: the last X-Forwarded-For hop, appended by the platform). */
  clientIp?: ClientIpSource;
  /** Answers carry secrets or personal data: every answer is `Cache-Control: no-store`. */
  noStore?: boolean;
  /** Security monitoring (shared/security/monitor.ts; httpOptions passes the Deps' one); none when absent. */
  monitor?: RequestMonitor;
}

export interface ClientIpSource {
  /** The header the platform's proxy sets, e.g. x-forwarded-for or cf-connecting-ip. */
  header: string;
  /** For a comma-separated list: how many hops from the right were appended by proxies we trust. */
  trustedHops: number;
}

export const DEFAULT_CLIENT_IP: ClientIpSource = { header: "x-forwarded-for", trustedHops: 1 };

export const supabaseClientHeaders = ["authorization", "x-client-info", "apikey", "content-type"];

function errorResponse(c: Context, code: ErrorCode, headers: Record<string, string> = {}, issues?: Issue[]) {
  const { status, message } = errorCatalog[code];
  const id = (c.get("requestId") as string | undefined) ?? "unknown";
  return c.json(issues?.length ? { error: message, requestId: id, issues } : { error: message, requestId: id }, status as 400, headers);
}

/** For the log line: "body:content:too_small,…" (paths and codes, never values). */
const describeIssues = (issues?: Issue[]) => issues?.map((i) => `${i.in}:${i.path}:${i.code}`).join(",");

/** The catalog code any thrown value answers with (what the caller is told, and what audit rows record). */
export function errorCodeOf(err: unknown): ErrorCode {
  if (err instanceof ApiError) return err.code;
  if (err instanceof HTTPException) return fromHttpException(err).code;
  return fromPostgres(err) ?? "internal";
}

/**
 * A safety net behind validation: PostgreSQL errors that input caused. Data exceptions (class
 * 22: bad timestamps, NUL bytes, out-of-range numbers) → 400; a foreign key to a user who no
 * longer exists (a valid token outliving its user) → 401; another missing referenced row → 400.
 */
function fromPostgres(err: unknown): ErrorCode | null {
  const e = err as { code?: unknown; detail?: unknown; table_name?: unknown } | null;
  const code = typeof e?.code === "string" ? e.code : "";
  if (!/^[0-9A-Z]{5}$/.test(code)) return null;
  if (code.startsWith("22")) return "invalid_request";
  // A statement cancelled by the server's timeout, or the server going away: try again later.
  if (code === "57014" || code.startsWith("57P0") || code.startsWith("08")) return "unavailable";
  if (code === "23503") return /table "users"/.test(String(e?.detail ?? "")) ? "unauthorized" : "invalid_request";
  return null;
}

/** Hono's own 4xx (body limit, malformed JSON, media type) in our catalog, with what failed. */
function fromHttpException(err: HTTPException): { code: ErrorCode; issues?: Issue[] } {
  if (err.status === 413) return { code: "payload_too_large" };
  if (err.status === 401) return { code: "unauthorized" };
  if (err.status === 404) return { code: "not_found" };
  if (err.status === 415) return { code: "invalid_request", issues: [{ in: "header", path: "content-type", code: "unsupported_media_type" }] };
  if (err.status === 400) return { code: "invalid_request", issues: [{ in: "body", path: "", code: "invalid_json" }] };
  return { code: err.status < 500 ? "invalid_request" : "internal" };
}

export function errorHandler(logger: Logger) {
  return (err: unknown, c: Context) => {
    const requestId = (c.get("requestId") as string | undefined) ?? "unknown";
    if (err instanceof ApiError) {
      const lvl = err.status >= 500 ? "error" : "info";
      logger[lvl]("request.failed", { requestId, status: err.status, code: err.code, detail: err.logDetail, issues: describeIssues(err.issues) });
      return errorResponse(c, err.code, err.headers, err.status === 400 ? err.issues : undefined);
    }
    if (err instanceof HTTPException) {
      const { code, issues } = fromHttpException(err);
      logger.info("request.failed", { requestId, status: errorCatalog[code].status, code, issues: describeIssues(issues) });
      return errorResponse(c, code, {}, issues);
    }
    const fromDb = fromPostgres(err);
    if (fromDb) {
      const event = fromDb === "unavailable" ? "request.database_unavailable" : "request.input_error";
      logger[fromDb === "unavailable" ? "warn" : "info"](event, { requestId, status: errorCatalog[fromDb].status, code: fromDb, errorCode: String((err as { code: string }).code) });
      return errorResponse(c, fromDb, fromDb === "unavailable" ? { "Retry-After": "1" } : {});
    }
    logger.error("request.crashed", { requestId, ...describeError(err) });
    return errorResponse(c, "internal");
  };
}

/** The security headers of every answer (those hono's secureHeaders set with our options). */
const SECURITY_HEADERS: readonly (readonly [string, string])[] = [
  ["Strict-Transport-Security", "max-age=63072000; includeSubDomains"],
  ["X-Content-Type-Options", "nosniff"],
  ["X-Frame-Options", "DENY"],
  ["Referrer-Policy", "no-referrer"],
  ["Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"],
  ["Cross-Origin-Resource-Policy", "same-origin"],
  ["Cross-Origin-Opener-Policy", "same-origin"],
  ["Origin-Agent-Cluster", "?1"],
  ["X-DNS-Prefetch-Control", "off"],
  ["X-Download-Options", "noopen"],
  ["X-Permitted-Cross-Domain-Policies", "none"],
  ["X-XSS-Protection", "0"],
];
/** What a browser client may read: ids for support, limits for backing off, export metadata. */
const EXPOSE_HEADERS = [
  "X-Request-Id", "Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "X-Export-Truncated", "Content-Disposition",
].join(",");
const ALLOW_METHODS = ["GET", "POST", "PATCH", "DELETE", "OPTIONS"].join(",");

/** Security headers, CORS and the request id on the final response (rebuilt if its headers are immutable). */
function decorate(c: Context, id: string, allowOrigin: string | null, noStore: boolean): void {
  let res = c.res;
  let h = res.headers;
  let copied = false;
  try {
    h.set("X-Request-Id", id);
  } catch {
    // Response.redirect(), Response.error() or a fetched response: a copy with mutable headers.
    res = new Response(res.body, res);
    h = res.headers;
    h.set("X-Request-Id", id);
    copied = true;
  }
  for (let i = 0; i < SECURITY_HEADERS.length; i++) h.set(SECURITY_HEADERS[i][0], SECURITY_HEADERS[i][1]);
  if (allowOrigin !== null) h.set("Access-Control-Allow-Origin", allowOrigin);
  h.set("Access-Control-Expose-Headers", EXPOSE_HEADERS);
  if (c.req.raw.method !== "OPTIONS") {
    h.append("Vary", "Origin");
    if (noStore) h.set("Cache-Control", "no-store");
  }
  if (copied) c.res = res;
}

/** Wrap a function's router with the shared middleware and both mount points. */
export function createFunctionApp(opts: HttpOptions, api: Router, docInfo: { title: string; version?: string; description?: string }) {
  const allowed = new Set(opts.corsAllowedOrigins);
  const onError = errorHandler(opts.logger);
  api.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: { title: docInfo.title, version: docInfo.version ?? "1.0.0", description: docInfo.description },
    servers: [{ url: `/functions/v1/${opts.name}` }],
  });
  // No api.onError: root.onError answers the router's errors too (same handler), and a mounted
  // router with its own error handler would cost every request an extra compose wrapper.

  const root = new Hono<AppEnv>();
  const ipSource = opts.clientIp ?? DEFAULT_CLIENT_IP;
  const allowHeaders = [...supabaseClientHeaders, ...(opts.extraAllowHeaders ?? [])].join(",");
  // Inside the headers and CORS decoration, so a 503 it answers carries them too.
  const deadline = requestDeadline({
    ms: opts.deadlineMs,
    unavailable: (c) => errorResponse(c, "unavailable", { "Retry-After": "1" }),
    onLate: (c) => opts.logger.error("request.deadline", { requestId: c.get("requestId"), fn: opts.name, status: 503 }),
  });
  const limit = bodyLimitMiddleware(opts.maxBodyBytes);
  // Per-client-IP counting, blocks and incidents (shared/security/monitor.ts): counted in memory,
  // added to the database in batches; failures cost a statement each.
  const monitored = opts.monitor?.middleware(opts.name);

  // The whole frame is ONE middleware (issue 10: seven hono middlewares cost more than the work
  // of a cheap route). Outside in: request id and client address; the CORS preflight; the
  // deadline, the body limit (requests that may carry a body) and the security monitor around
  // the router; then every answer (success, error, 404, 413, 503, preflight) gets the security
  // headers, CORS and the request id, and one log line. Headers are set once on the final
  // response, never on a placeholder that hono would copy.
  root.use("*", async (c, next) => {
    const started = performance.now();
    const raw = c.req.raw;
    // A caller's X-Request-Id is kept only when it is a UUID: anything else could forge log lines.
    const given = raw.headers.get("x-request-id");
    const id = given !== null && isUuid(given) ? given.toLowerCase() : crypto.randomUUID();
    c.set("requestId", id);
    c.set("clientIp", readClientIp(c, ipSource));
    const origin = raw.headers.get("origin");
    // Echo exactly one allowed origin (a header listing several is rejected by browsers).
    const allowOrigin = origin !== null && allowed.has(origin) ? origin : null;
    const method = raw.method;
    if (method === "OPTIONS") {
      const h = new Headers();
      h.set("Access-Control-Max-Age", "600");
      h.set("Access-Control-Allow-Methods", ALLOW_METHODS);
      h.set("Access-Control-Allow-Headers", allowHeaders);
      h.set("Vary", "Origin, Access-Control-Request-Headers");
      c.res = new Response(null, { status: 204, headers: h });
    } else {
      const inner: Next = monitored
        ? async () => {
          const r = await monitored(c, next);
          if (r instanceof Response && !c.finalized) c.res = r; // as hono's compose would
        }
        : next;
      try {
        // GET and HEAD carry no body a route reads: no limit wrapper (it would also build the
        // request's body stream just to find it empty).
        await deadline(c, method === "GET" || method === "HEAD" ? inner : async () => void (await limit(c, inner)));
      } catch (err) {
        // From the body limit or the monitor (the router's own errors are answered inside).
        c.res = await onError(err, c);
      }
    }
    decorate(c, id, allowOrigin, opts.noStore === true);
    opts.logger.info("request", { requestId: id, fn: opts.name, method, status: c.res.status, ms: Math.round(performance.now() - started) });
  });
  root.route(`/functions/v1/${opts.name}`, api);
  root.route(`/${opts.name}`, api);
  root.notFound((c) => errorResponse(c, "not_found"));
  root.onError(onError);
  return root;
}

export function bodyLimitMiddleware(maxSize: number): MiddlewareHandler {
  return bodyLimit({
    maxSize,
    onError: () => {
      throw new ApiError("payload_too_large");
    },
  });
}

/** Parse a JSON body ourselves (so callers can check permission before validating). */
export async function readJson(c: Context): Promise<unknown> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\b/i.test(type)) throw new ApiError("invalid_request", {}, "content-type is not JSON");
  try {
    return await c.req.json();
  } catch {
    throw new ApiError("invalid_request", {}, "body is not valid JSON");
  }
}

/**
 * The caller's address for audit rows and limits: only from the platform's trusted header. A
 * client can send its own X-Forwarded-For, but the platform's proxy appends the address it saw,
 * so the trusted hop is counted from the right, never the left.
 */
export function clientIp(c: Context): string | null {
  const known = c.get("clientIp") as string | null | undefined;
  return known !== undefined ? known : readClientIp(c, DEFAULT_CLIENT_IP);
}

function readClientIp(c: Context, source: ClientIpSource): string | null {
  const hops = (c.req.header(source.header) ?? "").split(",").map((s) => s.trim());
  return validIp(hops.length >= source.trustedHops ? hops[hops.length - source.trustedHops] : undefined);
}

function validIp(first: string | undefined): string | null {
  if (!first || first.length > 45) return null;
  if (/^(\d{1,3})(\.\d{1,3}){3}$/.test(first) && first.split(".").every((o) => Number(o) <= 255)) return first;
  if (/^[0-9a-fA-F:.]+$/.test(first) && first.includes(":")) {
    try {
      new URL(`http://[${first}]/`);
      return first;
    } catch {
      return null;
    }
  }
  return null;
}

export function userAgent(c: Context): string | null {
  return c.req.header("user-agent")?.slice(0, 512) ?? null;
}
