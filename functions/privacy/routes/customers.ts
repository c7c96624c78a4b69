// POST /export, POST /erase, GET /requests.
import { z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { Tx } from "../../../shared/db/index.ts";
import { ApiError, json, jsonBody, route, type AppEnv, type Router } from "../../../shared/http/index.ts";
import {
  CUSTOMER_DATA, CUSTOMER_PAYLOAD_TABLES, encodeCursor, keysetPage, type Subject,
} from "../../../shared/compliance/index.ts";
import { openCustomerContact, openMessageContent } from "../../../shared/messaging/index.ts";
import { cursorParam } from "../../../shared/http/cursor.ts";
import type { Deps } from "../../../shared/runtime/deps.ts";
import { DISTRIBUTOR_HEADER, openFor, tenant, type DistributorKeys } from "../../../shared/tenancy/index.ts";
import { isUuid } from "../../../shared/uuid/index.ts";
import { isoTimestamps } from "../../../shared/schemas/index.ts";

const DistributorHeaders = z.object({
  [DISTRIBUTOR_HEADER]: z.string().openapi({
    param: { name: DISTRIBUTOR_HEADER, in: "header" },
    description: "The distributor (a UUID); the caller must be a member. Missing → 400; malformed, unknown or not a member → 404.",
  }),
});
const CustomerBody = z.object({ customer_id: z.string().refine(isUuid, { message: "not a UUID" }) }).strict().openapi("PrivacySubject");

const Export = z.object({
  request_id: z.string(),
  customer_id: z.string(),
  generated_at: z.string(),
  customer: z.record(z.string(), z.unknown()),
  conversations: z.array(z.record(z.string(), z.unknown())),
  messages: z.array(z.record(z.string(), z.unknown())),
  orders: z.array(z.record(z.string(), z.unknown())),
  ai_responses: z.array(z.record(z.string(), z.unknown())),
  pii_detection_results: z.array(z.record(z.string(), z.unknown())),
  other: z.record(z.string(), z.array(z.record(z.string(), z.unknown()))).openapi({ description: "Rows of any other table that refers to the customer" }),
  access_log: z.array(z.record(z.string(), z.unknown())).openapi({ description: "data_access_audit entries about the customer, their conversations, messages and orders" }),
}).openapi("PrivacyExport");

const Erasure = z.object({
  request_id: z.string(),
  customer_id: z.string(),
  status: z.literal("completed"),
  counts: z.record(z.string(), z.number().int()).openapi({ description: "Rows deleted per table" }),
  completed_at: z.string(),
}).openapi("PrivacyErasure");

const RequestRow = z.object({
  id: z.string(), type: z.enum(["export", "erase"]), status: z.enum(["pending", "completed", "failed"]),
  customer_id: z.string().nullable(), requested_by: z.string().nullable(), counts: z.record(z.string(), z.unknown()),
  created_at: z.string(), completed_at: z.string().nullable(),
}).openapi("PrivacyRequest");

/** Columns never exported as such: ciphertexts, their IVs and lookup hashes (exported decrypted instead). */
const HIDDEN = /(_encrypted|_iv|_hash)$/;
const strip = (r: Record<string, unknown>) => Object.fromEntries(Object.entries(r).filter(([k]) => !HIDDEN.test(k)));

type Ids = Record<Subject, string[]>;

/** The customer's ids, conversation ids and message ids, or null when the customer is not this distributor's. */
async function subjectIds(tx: Tx, distributorId: string, customerId: string): Promise<(Ids & { orders: string[] }) | null> {
  const [r] = await tx<{ found: boolean; conversations: string[]; messages: string[]; orders: string[] }[]>`
    select exists (select 1 from public.customers where id = ${customerId} and distributor_id = ${distributorId}) as found,
           array(select id::text from public.conversations where customer_id = ${customerId} and distributor_id = ${distributorId}) as conversations,
           array(select m.id::text from public.messages m join public.conversations c on c.id = m.conversation_id
                 where c.customer_id = ${customerId} and c.distributor_id = ${distributorId}) as messages,
           array(select id::text from public.orders where customer_id = ${customerId} and distributor_id = ${distributorId}) as orders`;
  if (!r.found) return null;
  return { customer: [customerId], conversation: r.conversations, message: r.messages, orders: r.orders };
}

/** The CUSTOMER_DATA entries whose table and column exist now, and whether the table has distributor_id. */
async function presentTargets(tx: Tx) {
  const cols = await tx<{ table_name: string; column_name: string }[]>`
    select table_name::text, column_name::text from information_schema.columns
    where table_schema = 'public' and table_name = any(${[...new Set([...CUSTOMER_DATA, ...CUSTOMER_PAYLOAD_TABLES].map((e) => e.table))]})`;
  const has = new Set(cols.map((c) => `${c.table_name}.${c.column_name}`));
  return {
    data: CUSTOMER_DATA.filter((e) => has.has(`${e.table}.${e.column}`)).map((e) => ({ ...e, scoped: has.has(`${e.table}.distributor_id`) })),
    payload: CUSTOMER_PAYLOAD_TABLES.filter((e) => has.has(`${e.table}.${e.column}`)),
  };
}

const NOTES_PREFIX = "enc:v1:";
/** customers.notes as the messages function stores it: "enc:v1:<version>:<iv>:<ciphertext>" (AAD customer_notes:<id>). */
async function openNotes(keys: DistributorKeys, customerId: string, stored: unknown): Promise<string | null> {
  if (typeof stored !== "string") return null;
  if (!stored.startsWith(NOTES_PREFIX)) return stored;
  const [version, iv, ct] = stored.slice(NOTES_PREFIX.length).split(":");
  return await openFor(keys, "customer_notes", customerId, { keyVersion: Number(version), iv, encryptedValue: ct });
}

type AnyRow = Record<string, unknown> & { id: string };

async function decrypt(keys: DistributorKeys, table: string, r: AnyRow): Promise<Record<string, unknown>> {
  try {
    if (table === "customers") {
      const contact = await openCustomerContact(keys, r.id, r as never);
      return { ...strip(r), ...contact, notes: await openNotes(keys, r.id, r.notes) };
    }
    if (table === "messages" && r.content_encrypted) {
      return { ...strip(r), content: await openMessageContent(keys, r.id, r as never) };
    }
    if (table === "orders" && r.notes_encrypted) {
      return {
        ...strip(r),
        notes: await openFor(keys, "orders", r.id, { encryptedValue: String(r.notes_encrypted), iv: String(r.notes_iv), keyVersion: Number(r.key_version) }),
      };
    }
  } catch {
    throw new ApiError("internal", {}, `${table} ${r.id} did not decrypt`);
  }
  return strip(r);
}

export function customerRoutes(api: Router, deps: Deps, auth: MiddlewareHandler<AppEnv>): void {
  api.openapi(route({
    method: "post", path: "/export", tags: ["privacy"], operationId: "exportCustomerData",
    summary: "Everything about one customer, decrypted, as one JSON document (customers.export: OWNER, ADMIN; aal2; audited)",
    middleware: [auth, tenant(deps, "customers.export")] as const,
    request: { headers: DistributorHeaders, body: jsonBody(CustomerBody) },
    errors: ["forbidden", "mfa_required", "not_found"],
    responses: { 200: json(Export, "The export") },
  }), async (c) => {
    const { customer_id } = c.req.valid("json");
    const t = c.get("tenant");
    const out = await t.serviceTransaction(async (tx) => {
      const ids = await subjectIds(tx, t.id, customer_id);
      if (!ids) throw new ApiError("not_found", {}, "customer not this distributor's");
      const targets = await presentTargets(tx);
      const keys = await t.keys(tx);
      const byTable: Record<string, AnyRow[]> = {};
      for (const e of targets.data) {
        const list = ids[e.refers];
        if (!list.length) continue;
        const rows = await tx<AnyRow[]>`
          select to_jsonb(x) as j from public.${tx(e.table)} x
          where ${tx(e.column)} = any(${list}::uuid[]) ${e.scoped ? tx`and distributor_id = ${t.id}` : tx``}`;
        const seen = new Set((byTable[e.table] ??= []).map((r) => r.id));
        for (const { j } of rows as unknown as { j: AnyRow }[]) if (!seen.has(j.id)) byTable[e.table].push(j);
      }
      const decrypted: Record<string, Record<string, unknown>[]> = {};
      for (const [table, rows] of Object.entries(byTable)) decrypted[table] = await Promise.all(rows.map((r) => decrypt(keys, table, r)));
      const about = [...ids.customer, ...ids.conversation, ...ids.message, ...ids.orders];
      const accessLog = await tx<Record<string, unknown>[]>`
        select id, user_id, action, table_name, record_id, host(ip_address) as ip_address, details, to_json(created_at) #>> '{}' as created_at
        from public.data_access_audit where distributor_id = ${t.id} and record_id = any(${about}::uuid[]) order by created_at`;
      const counts = Object.fromEntries(Object.entries(decrypted).map(([k, v]) => [k, v.length]));
      const [req] = await tx<{ id: string }[]>`
        insert into public.privacy_requests (distributor_id, customer_id, type, status, requested_by, counts, completed_at)
        values (${t.id}, ${customer_id}, 'export', 'completed', ${t.user.id}, ${tx.json(counts)}, now()) returning id`;
      await t.audit(tx, "privacy.export", "customers", customer_id, { request_id: req.id, counts });
      return { req: req.id, decrypted, accessLog };
    });
    const { customers = [], conversations = [], messages = [], orders = [], ai_responses = [], pii_detection_results = [], ...other } = out.decrypted;
    return c.json(isoTimestamps({
      request_id: out.req, customer_id, generated_at: deps.now().toISOString(),
      customer: customers[0] ?? {}, conversations, messages, orders, ai_responses, pii_detection_results, other,
      access_log: out.accessLog,
    }), 200);
  });

  api.openapi(route({
    method: "post", path: "/erase", tags: ["privacy"], operationId: "eraseCustomerData",
    summary: "Delete everything about one customer in one transaction (customers.erase: OWNER; aal2; recorded and audited)",
    description: "Deletes the customer (sealed contact and lookup hashes), their conversations, messages (content and previews), " +
      "PII detection summaries, AI responses, orders and events naming them. Orders survive only as anonymized totals in the " +
      "request's record (count and sum per status). The audit trail keeps ids only.",
    middleware: [auth, tenant(deps, "customers.erase")] as const,
    request: { headers: DistributorHeaders, body: jsonBody(CustomerBody) },
    errors: ["forbidden", "mfa_required", "not_found"],
    responses: { 200: json(Erasure, "The erasure, done") },
  }), async (c) => {
    const { customer_id } = c.req.valid("json");
    const t = c.get("tenant");
    const out = await t.serviceTransaction(async (tx) => {
      const ids = await subjectIds(tx, t.id, customer_id);
      if (!ids) throw new ApiError("not_found", {}, "customer not this distributor's");
      await tx`select 1 from public.customers where id = ${customer_id} for update`;
      const targets = await presentTargets(tx);
      const [orderTotals] = await tx<{ summary: unknown }[]>`
        select coalesce(jsonb_object_agg(status, jsonb_build_object('count', n, 'total', total)), '{}') as summary
        from (select status, count(*) as n, sum(total) as total from public.orders
              where customer_id = ${customer_id} and distributor_id = ${t.id} group by status) s`;
      const counts: Record<string, number> = {};
      const all = [...ids.customer, ...ids.conversation, ...ids.message, ...ids.orders];
      for (const e of targets.payload) {
        const r = await tx`delete from public.${tx(e.table)} x
          where distributor_id = ${t.id} and exists (select 1 from unnest(${all}::text[]) i where strpos(x.${tx(e.column)}::text, i) > 0)`;
        if (r.count) counts[e.table] = (counts[e.table] ?? 0) + r.count;
      }
      for (const e of targets.data) { // leaves first
        const list = ids[e.refers];
        if (!list.length) continue;
        const r = await tx`delete from public.${tx(e.table)}
          where ${tx(e.column)} = any(${list}::uuid[]) ${e.scoped ? tx`and distributor_id = ${t.id}` : tx``}`;
        if (r.count) counts[e.table] = (counts[e.table] ?? 0) + r.count;
      }
      const [req] = await tx<{ id: string; completed_at: string }[]>`
        insert into public.privacy_requests (distributor_id, customer_id, type, status, requested_by, counts, details, completed_at)
        values (${t.id}, ${customer_id}, 'erase', 'completed', ${t.user.id}, ${tx.json(counts)},
                jsonb_build_object('orders_kept_as_totals', ${tx.json(orderTotals.summary as never)}::jsonb), now())
        returning id, to_json(completed_at) #>> '{}' as completed_at`;
      await t.audit(tx, "privacy.erase", "customers", customer_id, { request_id: req.id, counts });
      return { req, counts };
    });
    return c.json(isoTimestamps({ request_id: out.req.id, customer_id, status: "completed" as const, counts: out.counts, completed_at: out.req.completed_at }), 200);
  });

  const RequestsQuery = z.object({
    limit: z.coerce.number().int().min(1).max(500).default(100).openapi({ param: { name: "limit", in: "query" } }),
    cursor: cursorParam(),
    status: z.enum(["pending", "completed", "failed"]).optional().openapi({ param: { name: "status", in: "query" } }),
  });
  api.openapi(route({
    method: "get", path: "/requests", tags: ["privacy"], operationId: "listPrivacyRequests",
    summary: "The distributor's privacy requests with their status, newest first (audit.read: OWNER, ADMIN; audited)",
    middleware: [auth, tenant(deps, "audit.read")] as const,
    request: { headers: DistributorHeaders, query: RequestsQuery },
    errors: ["forbidden", "not_found"],
    responses: { 200: json(z.object({ items: z.array(RequestRow), next_cursor: z.string().nullable() }).openapi("PrivacyRequestPage"), "A page") },
  }), async (c) => {
    const q = c.req.valid("query");
    const t = c.get("tenant");
    const rows = await t.transaction(async (tx) => {
      const [r] = await tx<{ rows: (z.infer<typeof RequestRow> & { id: string; created_at: string })[] }[]>`
        with pg as (
          select id, type, status, customer_id, requested_by, counts, to_json(created_at) #>> '{}' as created_at,
                 to_json(completed_at) #>> '{}' as completed_at
          from public.privacy_requests where distributor_id = ${t.id}
            ${q.status ? tx`and status = ${q.status}` : tx``}
            ${q.cursor ? tx`and (created_at, id) < (${q.cursor.ts}::text::timestamptz, ${q.cursor.id}::uuid)` : tx``}
          order by privacy_requests.created_at desc, id desc limit ${q.limit + 1}
        ), audit as (
          select ${t.auditCall(tx, "privacy.requests_read", "privacy_requests", { detailsSql: tx`jsonb_build_object('count', least(count(*), ${q.limit}))` })} from pg
        )
        select (select count(*) from audit)::int as audited, coalesce((select json_agg(pg) from pg), '[]'::json) as rows`;
      await t.verified();
      return r.rows;
    });
    return c.json(isoTimestamps(keysetPage(rows, q.limit)), 200);
  });
}

export { encodeCursor };
