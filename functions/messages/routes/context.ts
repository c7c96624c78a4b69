// What every route of the messages function shares: the tenant gate (x-distributor-id,
// membership, permission) run inside the route's one user transaction, opaque keyset
// cursors, the OpenAPI registration helper and the common schemas.
import { z, type RouteConfig } from "@hono/zod-openapi";
import type { Context, Handler, MiddlewareHandler } from "hono";
import type { AuthUser } from "../../../shared/auth/index.ts";
import { rateLimitHeaders, type RunOptions, type Tx } from "../../../shared/db/index.ts";
import { ApiError, clientIp, readJson, userAgent, type AppEnv, type Router } from "../../../shared/http/index.ts";
import type { Deps } from "../../../shared/runtime/deps.ts";
import { can, isUuid, memberRole, type Permission, type Role } from "../../../shared/tenancy/index.ts";

export type Ctx = Context<AppEnv>;

export interface RouteContext {
  deps: Deps;
  /** requireUser for this function's verifier. */
  auth: MiddlewareHandler<AppEnv>;
}

export const DISTRIBUTOR_HEADER = "x-distributor-id";

/** The distributor a request acts for, its caller, and the gate every route passes. */
export interface Tenant {
  id: string;
  user: AuthUser;
  ip: string | null;
  userAgent: string | null;
  /**
   * Resolves to the caller's role once membership and the route's permission are confirmed
   * (rejects 404/403 otherwise). Routes issue their queries at once (pipelined behind the
   * membership read; RLS filters them by membership too) but await this before they
   * decrypt, fetch keys, or issue statements that depend on earlier results.
   */
  ready: Promise<Role>;
}

/** The x-distributor-id header: missing → 400 (a client bug); malformed → 404, like an unknown id. */
export function distributorIdOf(c: Ctx): string {
  const raw = c.req.header(DISTRIBUTOR_HEADER);
  if (raw === undefined || raw.trim() === "") throw new ApiError("invalid_request", {}, "x-distributor-id missing");
  const id = raw.trim();
  if (!isUuid(id)) throw new ApiError("not_found", {}, "x-distributor-id malformed");
  return id.toLowerCase();
}

/**
 * Run a route in ONE user transaction behind the tenant gate. The membership read is issued
 * first and `fn`'s statements right behind it, so the common case costs two round trips
 * (that batch, then COMMIT). Whatever `fn` throws, a failed gate wins: non-members get 404,
 * members without `permission` get 403, and only then do validation errors (400) or the
 * route's own 404/409 show. Anything `fn` wrote before the gate failed is rolled back.
 */
export async function inTenant<T>(
  deps: Deps, c: Ctx, permission: Permission, fn: (tx: Tx, t: Tenant) => Promise<T>, opts?: RunOptions,
): Promise<T> {
  const distributorId = distributorIdOf(c);
  const user = c.get("user");
  return await deps.db.withUser(user, async (tx) => {
    const ready = memberRole(tx, user.id, distributorId).then((role) => {
      if (!can(role, permission)) throw new ApiError("forbidden", {}, `role ${role} lacks ${permission}`);
      return role;
    });
    ready.catch(() => {}); // observed below
    const tenant: Tenant = { id: distributorId, user, ip: clientIp(c), userAgent: userAgent(c), ready };
    const work = (async () => await fn(tx, tenant))();
    // Wait for both, so no statement of `fn` outlives the transaction.
    const [gate, result] = await Promise.allSettled([ready, work]);
    if (gate.status === "rejected") throw gate.reason;
    if (result.status === "rejected") throw result.reason;
    return result.value;
  }, opts);
}

/** The per-distributor send limit (seed: 100 per minute), counted in Postgres. */
export function sendRateLimit(deps: Deps, c: Ctx): RunOptions {
  const distributorId = distributorIdOf(c);
  return {
    rateLimit: {
      key: `messages:${distributorId}`, limit: deps.config.MESSAGES_RATE_LIMIT_PER_MINUTE, windowSeconds: 60,
      memberOf: { distributorId, userId: c.get("user").id }, // strangers cannot spend a tenant's quota
    },
    onRateLimit: (s) => c.set("rateLimitHeaders", rateLimitHeaders(s)),
  };
}

export type BodyRead = { ok: true; value: unknown } | { ok: false };

/** Read the JSON body without judging it yet: the verdict waits until the permission check. */
export async function readBody(c: Ctx): Promise<BodyRead> {
  try {
    return { ok: true, value: await readJson(c) };
  } catch {
    return { ok: false };
  }
}

/** Parse after the gate: the result is held, and a failure is thrown from inside the route. */
export function parseOrInvalid<S extends z.ZodType>(schema: S, body: BodyRead): z.infer<S> {
  if (!body.ok) throw new ApiError("invalid_request", {}, "body is not JSON");
  const r = schema.safeParse(body.value);
  if (!r.success) throw new ApiError("invalid_request", {}, "body failed validation");
  return r.data;
}

export function parseQuery<S extends z.ZodType>(schema: S, c: Ctx): z.infer<S> {
  const r = schema.safeParse(c.req.query());
  if (!r.success) throw new ApiError("invalid_request", {}, "query failed validation");
  return r.data;
}

/** A path id: anything that is not a UUID cannot exist, so it answers 404. */
export function pathId(c: Ctx, name: string): string {
  const v = c.req.param(name);
  if (!isUuid(v)) throw new ApiError("not_found", {}, `${name} malformed`);
  return v.toLowerCase();
}

// Keyset cursors ---------------------------------------------------------------------------
// Opaque to callers: base64url of [timestamp (ISO, microseconds) | null, id]. Timestamps stay
// Postgres text end to end (JS Dates would drop the microseconds and repeat or skip rows):
// read with to_json(ts), compared as ${ts}::text::timestamptz (a bare ::timestamptz makes
// postgres.js serialize the parameter through a Date).

const ISO_TS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}(:\d{2})?)$/;

export interface Cursor {
  ts: string | null;
  id: string;
}

export function encodeCursor(ts: string | null, id: string): string {
  return btoa(JSON.stringify([ts, id])).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function decodeCursor(raw: string | undefined): Cursor | null {
  if (raw === undefined) return null;
  const bad = () => new ApiError("invalid_request", {}, "cursor malformed");
  if (raw.length > 200 || !/^[A-Za-z0-9_-]+$/.test(raw)) throw bad();
  let v: unknown;
  try {
    v = JSON.parse(atob(raw.replace(/-/g, "+").replace(/_/g, "/")));
  } catch {
    throw bad();
  }
  if (!Array.isArray(v) || v.length !== 2) throw bad();
  const [ts, id] = v;
  if (!(ts === null || (typeof ts === "string" && ISO_TS.test(ts))) || !isUuid(id)) throw bad();
  return { ts, id };
}

/** Take `limit` rows of a `limit + 1` fetch and the cursor of the last one if more exist. */
export function page<R>(rows: R[], limit: number, key: (r: R) => Cursor): { items: R[]; next_cursor: string | null } {
  if (rows.length <= limit) return { items: rows, next_cursor: null };
  const items = rows.slice(0, limit);
  const last = key(items[items.length - 1]);
  return { items, next_cursor: encodeCursor(last.ts, last.id) };
}

/**
 * One page of a tenant table, newest first by (created_at, id), and its data_access_audit row,
 * in one statement. `rows` is `select <columns> from <table> where distributor_id = … [and …]`;
 * the cursor condition, order and limit are appended here.
 */
export async function auditedPage<R extends { created_at: string; id: string }>(
  tx: Tx, t: Tenant, o: { rows: ReturnType<Tx>; cursor: string | undefined; limit: number; action: string; table: string },
): Promise<{ items: R[]; next_cursor: string | null }> {
  const cur = decodeCursor(o.cursor);
  if (cur && cur.ts === null) throw new ApiError("invalid_request", {}, "cursor malformed");
  const [r] = await tx<{ rows: R[] }[]>`
    with pg as (
      ${o.rows}
        ${cur ? tx`and (created_at, id) < (${cur.ts}::text::timestamptz, ${cur.id}::uuid)` : tx``}
      order by created_at desc, id desc
      limit ${o.limit + 1}
    ), audit as (
      select private.write_data_access_audit(${t.id}, ${t.user.id}, ${o.action}, ${o.table}, null,
               ${t.ip}, ${t.userAgent}, jsonb_build_object('count', least(count(*), ${o.limit})))
      from pg
    )
    select (select count(*) from audit)::int as audited,
           coalesce((select json_agg(pg order by pg.created_at desc, pg.id desc) from pg), '[]'::json) as rows`;
  await t.ready;
  return page(r.rows, o.limit, (x) => ({ ts: x.created_at, id: x.id }));
}

export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(100).default(50)
    .openapi({ param: { name: "limit", in: "query" }, example: 50, description: "Page size, 1..100 (default 50)" }),
  cursor: z.string().max(200).optional()
    .openapi({ param: { name: "cursor", in: "query" }, description: "next_cursor of the previous page" }),
};

// OpenAPI --------------------------------------------------------------------------------

export const ErrorBody = z.object({ error: z.string(), requestId: z.string() }).openapi("Error");

export const DistributorHeaders = z.object({
  "x-distributor-id": z.string().uuid().openapi({ description: "The distributor to act for; the caller must be a member" }),
});

const err = (description: string) => ({ description, content: { "application/json": { schema: ErrorBody } } });
export const errorResponses = {
  400: err("Invalid request (also: x-distributor-id missing)"),
  401: err("Authentication required"),
  403: err("Forbidden: the caller's role lacks the permission"),
  404: err("Not found: not a member of the distributor, or no such record in it"),
  500: err("Internal server error"),
};

export const json = <S extends z.ZodType>(schema: S, description: string) => ({
  description, content: { "application/json": { schema } },
});

/**
 * Document a route (createRoute) and mount its handlers. Request schemas are documentation
 * only: routes validate after the permission check, so a caller without permission learns
 * nothing about the request format.
 */
export function register(api: Router, route: RouteConfig, ...handlers: (MiddlewareHandler<AppEnv> | Handler<AppEnv>)[]): void {
  api.openAPIRegistry.registerPath({ ...route, security: [{ bearerAuth: [] }] });
  const path = route.path.replaceAll(/\/{(.+?)}/g, "/:$1");
  (api.on as (m: string, p: string, ...h: unknown[]) => unknown)(route.method.toUpperCase(), path, ...handlers);
}

/** Truncate by code points, so a surrogate pair is never cut in half. */
export function truncate(text: string, max: number): string {
  const cps = Array.from(text);
  return cps.length <= max ? text : `${cps.slice(0, max - 1).join("")}…`;
}
