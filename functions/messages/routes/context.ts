// What the routes of the messages function share beyond the one route style of
// shared/http/openapi.ts and the tenant gate of shared/tenancy/gate.ts: opaque keyset cursors,
// the audited page helper, the page query, the x-distributor-id header's documentation, the
// per-distributor send limit. (Previews: buildPreview in shared/messaging.)
import { z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { rateLimitHeaders, type RunOptions, type Tx } from "../../../shared/db/index.ts";
import type { AppEnv } from "../../../shared/http/index.ts";
import type { Deps } from "../../../shared/runtime/deps.ts";
import { DISTRIBUTOR_HEADER, isUuid, type TenantScope } from "../../../shared/tenancy/index.ts";

export { DISTRIBUTOR_HEADER };

export type Ctx = Context<AppEnv>;

export interface RouteContext {
  deps: Deps;
  /** requireUser for this function's verifier. */
  auth: MiddlewareHandler<AppEnv>;
}

/** The per-distributor send limit (seed: 100 per minute), counted in Postgres (GateOptions.runOptions). */
export function sendRateLimit(deps: Deps) {
  return (c: Ctx, distributorId: string): RunOptions => ({
    rateLimit: {
      key: `messages:${distributorId}`, limit: deps.config.MESSAGES_RATE_LIMIT_PER_MINUTE, windowSeconds: 60,
      memberOf: { distributorId, userId: c.get("user").id }, // strangers cannot spend a tenant's quota
    },
    onRateLimit: (s) => c.set("rateLimitHeaders", rateLimitHeaders(s)),
  });
}

// Keyset cursors: shared/http/cursor.ts (strictly validated, one format for every list).
export { cursorParam, decodeCursor, encodeCursor, page, type Cursor } from "../../../shared/http/cursor.ts";
import { cursorParam, page, type Cursor } from "../../../shared/http/cursor.ts";

/**
 * One page of a tenant table, newest first by (created_at, id), and its data_access_audit row,
 * in one statement (pipelined behind the gate's membership read). `rows` is
 * `select <columns> from <table> where distributor_id = … [and …]`; the cursor condition, order
 * and limit are appended here. Returns once the gate has passed.
 */
export async function auditedPage<R extends { created_at: string; id: string }>(
  tx: Tx, t: TenantScope, o: { rows: ReturnType<Tx>; cursor: Cursor | undefined; limit: number; action: string; table: string },
): Promise<{ items: R[]; next_cursor: string | null }> {
  const cur = o.cursor;
  const [r] = await tx<{ rows: R[] }[]>`
    with pg as (
      ${o.rows}
        ${cur ? tx`and (created_at, id) < (${cur.ts}::text::timestamptz, ${cur.id}::uuid)` : tx``}
      order by created_at desc, id desc
      limit ${o.limit + 1}
    ), audit as (
      select ${t.auditCall(tx, o.action, o.table, { detailsSql: tx`jsonb_build_object('count', least(count(*), ${o.limit}))` })}
      from pg
    )
    select (select count(*) from audit)::int as audited,
           coalesce((select json_agg(pg order by pg.created_at desc, pg.id desc) from pg), '[]'::json) as rows`;
  await t.verified();
  return page(r.rows, o.limit, (x) => ({ ts: x.created_at, id: x.id }));
}

/** limit and cursor of a page whose keyset timestamp is never null. */
export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(100).default(50)
    .openapi({ param: { name: "limit", in: "query" }, example: 50, description: "Page size, 1..100 (default 50)" }),
  cursor: cursorParam({ nullTs: false }),
};

// OpenAPI --------------------------------------------------------------------------------

/**
 * The x-distributor-id header, for the document. The tenant gate (route middleware, before
 * the validators) judges it: missing → 400, malformed, unknown or not a member → 404. This
 * schema therefore never fails on its own.
 */
export const DistributorHeaders = z.object({
  [DISTRIBUTOR_HEADER]: z.string().openapi({
    param: { name: DISTRIBUTOR_HEADER, in: "header" },
    description: "The distributor to act for (a UUID); the caller must be a member. Missing → 400; malformed, unknown or not a member → 404.",
    example: "3f2b6c1e-8d4a-4b7e-9c2f-1a2b3c4d5e6f",
  }),
});

/** A path id: validated like shared/uuid's isUuid (any version); malformed → 404 (createRouter). */
export const uuidParam = (name: string) =>
  z.string().refine(isUuid, { message: "not a UUID" }).openapi({ param: { name, in: "path" }, format: "uuid" });

/** Answers carry personal data: never cached (set on every response by app.ts). */
export const NO_STORE = { "Cache-Control": { description: "Always `no-store`: answers carry personal data", schema: { type: "string" as const } } };
