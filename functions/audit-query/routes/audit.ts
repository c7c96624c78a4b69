// GET /secrets, GET /data-access, GET /security-incidents: keyset pages of an audit table within
// a time window, filtered; format=csv streams the whole window page by page (each page its own
// transaction with its own deadline, so no export holds every row, or a transaction, open).
// Each request writes one data_access_audit row about itself in its first transaction: for a
// distributor (x-distributor-id) through the tenant gate, otherwise a row without distributor
// about the caller (private.write_own_audit).
import { z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import type { Tx } from "../../../shared/db/index.ts";
import type { SqlExpression } from "../../../shared/audit/index.ts";
import { ApiError, json, route, type AppEnv, type Router } from "../../../shared/http/index.ts";
import { clientIp, userAgent } from "../../../shared/http/index.ts";
import { Deadline, defaultRequestDeadline, withDeadline } from "../../../shared/http/deadline.ts";
import { csvStream } from "../../../shared/csv/index.ts";
import {
  auditWindow, auditWindowQuery, encodeCursor, isPlatformAdmin, keysetPage, MAX_WINDOW_DAYS, type Cursor,
} from "../../../shared/compliance/index.ts";
import type { Deps } from "../../../shared/runtime/deps.ts";
import { DISTRIBUTOR_HEADER, tenant, type TenantScope } from "../../../shared/tenancy/index.ts";
import { isUuid } from "../../../shared/uuid/index.ts";
import { isoTimestamps } from "../../../shared/schemas/index.ts";

/** Rows per CSV page (one transaction each). */
export const CSV_PAGE = 1000;

const NO_STORE = { "Cache-Control": { description: "Always `no-store`", schema: { type: "string" as const } } };

export const DistributorHeaders = z.object({
  [DISTRIBUTOR_HEADER]: z.string().openapi({
    param: { name: DISTRIBUTOR_HEADER, in: "header" },
    description: "The distributor (a UUID); the caller must be a member. Missing → 400; malformed, unknown or not a member → 404.",
  }),
});
const OptionalDistributorHeaders = z.object({
  [DISTRIBUTOR_HEADER]: z.string().optional().openapi({
    param: { name: DISTRIBUTOR_HEADER, in: "header" },
    description: "A distributor (OWNER/ADMIN: its incidents). Without it: every incident, for platform admins only (403 otherwise).",
  }),
});

const boolParam = (name: string) =>
  z.enum(["true", "false"]).transform((v) => v === "true").optional().openapi({ param: { name, in: "query" }, type: "string", enum: ["true", "false"] });
const textParam = (name: string, max = 100) => z.string().min(1).max(max).optional().openapi({ param: { name, in: "query" } });
const uuidQuery = (name: string) => z.string().refine(isUuid, { message: "not a UUID" }).optional().openapi({ param: { name, in: "query" }, format: "uuid" });

const SecretAuditRow = z.object({
  id: z.string(), service_name: z.string().nullable(), operation: z.string(), success: z.boolean(),
  ip_address: z.string().nullable(), user_agent: z.string().nullable(), error_message: z.string().nullable(), created_at: z.string(),
}).openapi("SecretAuditRow");
const DataAccessRow = z.object({
  id: z.string(), user_id: z.string().nullable(), action: z.string(), table_name: z.string().nullable(), record_id: z.string().nullable(),
  ip_address: z.string().nullable(), user_agent: z.string().nullable(), details: z.record(z.string(), z.unknown()), created_at: z.string(),
}).openapi("DataAccessRow");
const IncidentRow = z.object({
  id: z.string(), distributor_id: z.string().nullable(), type: z.string(), severity: z.enum(["low", "medium", "high", "critical"]),
  ip: z.string().nullable(), user_id: z.string().nullable(), details: z.record(z.string(), z.unknown()), created_at: z.string(),
  resolved_at: z.string().nullable(), resolved_by: z.string().nullable(),
}).openapi("SecurityIncident");

const pageOf = <S extends z.ZodType>(item: S, name: string) =>
  z.object({ items: z.array(item), next_cursor: z.string().nullable(), from: z.string(), to: z.string() }).openapi(name);

const csvResponse = <S extends z.ZodType>(schema: S, description: string, header: string[]) => ({
  description,
  headers: NO_STORE,
  content: {
    "application/json": { schema },
    "text/csv": { schema: z.string().openapi({ example: `${header.join(",")}\r\n` }) },
  },
});

type Row = Record<string, unknown> & { id: string; created_at: string };

/** How one audit table is read. */
interface Source {
  table: string;
  /** Columns as selected (created_at is added as Postgres text). */
  columns: (tx: Tx) => SqlExpression;
  header: string[];
  /** The scope and the filters (without the window and the cursor). */
  where: (tx: Tx) => SqlExpression;
}

type AuditFragment = ReturnType<TenantScope["auditCall"]>;

interface Window { from: string; to: string }

/** One page, newest first, with its audit row when `audit` is given (a fragment using count(*) over pg). */
async function readPage(tx: Tx, s: Source, w: Window, cursor: Cursor | undefined, limit: number,
  audit: ((tx: Tx) => AuditFragment) | null): Promise<Row[]> {
  const [r] = await tx<{ rows: Row[] }[]>`
    with pg as (
      select ${s.columns(tx)}, to_json(created_at) #>> '{}' as created_at
      from public.${tx(s.table)}
      where ${s.where(tx)}
        and created_at >= ${w.from}::text::timestamptz and created_at < ${w.to}::text::timestamptz
        ${cursor ? tx`and (created_at, id) < (${cursor.ts}::text::timestamptz, ${cursor.id}::uuid)` : tx``}
      order by ${tx(s.table)}.created_at desc, id desc -- the column, not the text alias: index order, no sort
      limit ${limit + 1}
    )${audit ? tx`, audit as (select ${audit(tx)} from pg)` : tx``}
    select ${audit ? tx`(select count(*) from audit)::int` : tx`0`} as audited,
           coalesce((select json_agg(pg) from pg), '[]'::json) as rows`;
  // json_agg keeps pg's order (a CTE with ORDER BY, read once).
  return r.rows;
}

interface Runner {
  /** A transaction for one page (the gate's, or the caller's own). */
  run<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** The audit call for the first page. */
  audit(tx: Tx, details: (tx: Tx) => SqlExpression): AuditFragment;
}

function tenantRunner(t: TenantScope, action: string, table: string): Runner {
  return {
    run: (fn) => t.transaction(async (tx) => {
      const out = await fn(tx);
      await t.verified();
      return out;
    }),
    audit: (tx, details) => t.auditCall(tx, action, table, { detailsSql: details(tx) }),
  };
}

function ownRunner(deps: Deps, c: Context<AppEnv>, action: string, table: string): Runner {
  const user = c.get("user");
  const ip = clientIp(c), ua = userAgent(c);
  return {
    run: (fn) => deps.db.withUser(user, fn),
    audit: (tx, details) => tx`private.write_own_audit(${action}, ${table}, ${ip}, ${ua}, ${details(tx)})`,
  };
}

function window(c: Context<AppEnv>, deps: Deps, q: { from?: string; to?: string }): Window {
  const w = auditWindow(q, deps.now());
  if (!w) {
    throw new ApiError("invalid_request", {}, `window reversed or longer than ${MAX_WINDOW_DAYS} days`, [{ in: "query", path: "from", code: "too_big" }]);
  }
  return w;
}

/** The answer: a JSON page, or the whole window as streamed CSV. */
async function answer(c: Context<AppEnv>, deps: Deps, s: Source, runner: Runner, q: {
  from?: string; to?: string; limit: number; cursor?: Cursor; format: "json" | "csv";
}, filters: Record<string, unknown>) {
  const w = window(c, deps, q);
  const details = (tx: Tx): SqlExpression => tx`jsonb_build_object('count', least(count(*), ${q.format === "csv" ? CSV_PAGE : q.limit}),
    'from', ${w.from}::text, 'to', ${w.to}::text, 'format', ${q.format}::text, 'filters', ${tx.json(filters as never)}::jsonb)`;
  if (q.format === "json") {
    const rows = await runner.run((tx) => readPage(tx, s, w, q.cursor, q.limit, (t) => runner.audit(t, details)));
    return c.json(isoTimestamps({ ...keysetPage(rows, q.limit), from: w.from, to: w.to }), 200);
  }
  // CSV: the first page (and the audit row, and the gate) before the answer starts.
  let first: Row[] | null = await runner.run((tx) => readPage(tx, s, w, q.cursor, CSV_PAGE, (t) => runner.audit(t, details)));
  let cursor: Cursor | undefined = q.cursor;
  let finished = false;
  const next = async (): Promise<Row[] | null> => {
    if (finished) return null;
    let rows: Row[];
    if (first) {
      rows = first;
      first = null;
    } else {
      const deadline = new Deadline(defaultRequestDeadline());
      try {
        rows = await withDeadline(deadline, () => runner.run((tx) => readPage(tx, s, w, cursor, CSV_PAGE, null)));
      } finally {
        deadline.dispose();
      }
    }
    if (rows.length <= CSV_PAGE) finished = true;
    const items = rows.slice(0, CSV_PAGE);
    if (items.length) cursor = { ts: items[items.length - 1].created_at, id: items[items.length - 1].id };
    return items;
  };
  const stream = csvStream(s.header, next, (r) => s.header.map((h) => {
    const v = isoTimestamps(r[h]);
    return v !== null && typeof v === "object" ? JSON.stringify(v) : (v as string | number | boolean | null);
  }), (err) => deps.logger.error("audit.csv_failed", { requestId: c.get("requestId"), code: String((err as { code?: unknown })?.code ?? "") }));
  return c.body(stream, 200, {
    "Content-Type": "text/csv; charset=utf-8",
    "Content-Disposition": `attachment; filename="${s.table}.csv"`,
  }) as never;
}

export function auditRoutes(api: Router, deps: Deps, auth: MiddlewareHandler<AppEnv>): void {
  // -------------------------------------------------------------------- GET /secrets
  const SecretsQuery = z.object({
    ...auditWindowQuery,
    operation: z.enum(["create", "read", "update", "delete", "invalid"]).optional().openapi({ param: { name: "operation", in: "query" } }),
    success: boolParam("success"),
    service_name: textParam("service_name"),
  });
  const secretsHeader = ["id", "created_at", "service_name", "operation", "success", "ip_address", "user_agent", "error_message"];
  api.openapi(route({
    method: "get", path: "/secrets", tags: ["audit"], operationId: "listSecretAudit",
    summary: "The caller's own secret audit log (every user; the read is audited)",
    middleware: [auth] as const,
    request: { query: SecretsQuery },
    responses: { 200: csvResponse(pageOf(SecretAuditRow, "SecretAuditPage"), "A page (JSON) or the whole window (CSV)", secretsHeader) },
  }), async (c) => {
    const q = c.req.valid("query");
    const user = c.get("user");
    const s: Source = {
      table: "secret_audit_logs", header: secretsHeader,
      columns: (tx) => tx`id, service_name, operation, success, host(ip_address) as ip_address, user_agent, error_message`,
      where: (tx) => tx`user_id = ${user.id}
        ${q.operation ? tx`and operation = ${q.operation}` : tx``}
        ${q.success !== undefined ? tx`and success = ${q.success}` : tx``}
        ${q.service_name ? tx`and service_name = ${q.service_name}` : tx``}`,
    };
    const filters = { operation: q.operation ?? null, success: q.success ?? null, service_name: q.service_name ?? null };
    return await answer(c, deps, s, ownRunner(deps, c, "audit.read_secrets", "secret_audit_logs"), q, filters);
  });

  // -------------------------------------------------------------------- GET /data-access
  const DataAccessQuery = z.object({
    ...auditWindowQuery,
    action: textParam("action", 50),
    user_id: uuidQuery("user_id"),
    table_name: textParam("table_name"),
  });
  const dataHeader = ["id", "created_at", "user_id", "action", "table_name", "record_id", "ip_address", "user_agent", "details"];
  api.openapi(route({
    method: "get", path: "/data-access", tags: ["audit"], operationId: "listDataAccessAudit",
    summary: "A distributor's data-access audit (audit.read: OWNER, ADMIN; the read is audited)",
    middleware: [auth, tenant(deps, "audit.read")] as const,
    request: { headers: DistributorHeaders, query: DataAccessQuery },
    errors: ["forbidden", "not_found"],
    responses: { 200: csvResponse(pageOf(DataAccessRow, "DataAccessPage"), "A page (JSON) or the whole window (CSV)", dataHeader) },
  }), async (c) => {
    const q = c.req.valid("query");
    const t = c.get("tenant");
    const s: Source = {
      table: "data_access_audit", header: dataHeader,
      columns: (tx) => tx`id, user_id, action, table_name, record_id, host(ip_address) as ip_address, user_agent, details`,
      where: (tx) => tx`distributor_id = ${t.id}
        ${q.action ? tx`and action = ${q.action}` : tx``}
        ${q.user_id ? tx`and user_id = ${q.user_id}` : tx``}
        ${q.table_name ? tx`and table_name = ${q.table_name}` : tx``}`,
    };
    const filters = { action: q.action ?? null, user_id: q.user_id ?? null, table_name: q.table_name ?? null };
    return await answer(c, deps, s, tenantRunner(t, "audit.read_data_access", "data_access_audit"), q, filters);
  });

  // -------------------------------------------------------------------- GET /security-incidents
  const IncidentsQuery = z.object({
    ...auditWindowQuery,
    type: textParam("type"),
    severity: z.enum(["low", "medium", "high", "critical"]).optional().openapi({ param: { name: "severity", in: "query" } }),
    user_id: uuidQuery("user_id"),
    resolved: boolParam("resolved"),
  });
  const incidentHeader = ["id", "created_at", "distributor_id", "type", "severity", "ip", "user_id", "details", "resolved_at", "resolved_by"];
  const gate = tenant(deps, "audit.read");
  // With x-distributor-id: the tenant gate. Without: platform admins only.
  const incidentsAccess: MiddlewareHandler<AppEnv> = async (c, next) => {
    if (c.req.header(DISTRIBUTOR_HEADER) !== undefined) return await gate(c, next);
    if (!isPlatformAdmin(c.get("user"))) throw new ApiError("forbidden", {}, "not a platform admin");
    await next();
  };
  api.openapi(route({
    method: "get", path: "/security-incidents", tags: ["audit"], operationId: "listSecurityIncidents",
    summary: "Security incidents: a distributor's (audit.read) or, without x-distributor-id, all (platform admins); audited",
    middleware: [auth, incidentsAccess] as const,
    request: { headers: OptionalDistributorHeaders, query: IncidentsQuery },
    errors: ["forbidden", "not_found"],
    responses: { 200: csvResponse(pageOf(IncidentRow, "SecurityIncidentPage"), "A page (JSON) or the whole window (CSV)", incidentHeader) },
  }), async (c) => {
    const q = c.req.valid("query");
    const t = c.req.header(DISTRIBUTOR_HEADER) !== undefined ? c.get("tenant") : null;
    const s: Source = {
      table: "security_incidents", header: incidentHeader,
      columns: (tx) => tx`id, distributor_id, type, severity, host(ip) as ip, user_id, details,
        to_json(resolved_at) #>> '{}' as resolved_at, resolved_by`,
      where: (tx) => tx`${t ? tx`distributor_id = ${t.id}` : tx`true`}
        ${q.type ? tx`and type = ${q.type}` : tx``}
        ${q.severity ? tx`and severity = ${q.severity}` : tx``}
        ${q.user_id ? tx`and user_id = ${q.user_id}` : tx``}
        ${q.resolved === true ? tx`and resolved_at is not null` : q.resolved === false ? tx`and resolved_at is null` : tx``}`,
    };
    const filters = { type: q.type ?? null, severity: q.severity ?? null, user_id: q.user_id ?? null, resolved: q.resolved ?? null };
    const runner = t ? tenantRunner(t, "audit.read_incidents", "security_incidents") : ownRunner(deps, c, "audit.read_incidents", "security_incidents");
    return await answer(c, deps, s, runner, q, filters);
  });
}

export { encodeCursor };
