// Delivery history of an endpoint (each delivery with its attempts) and manual redelivery of a
// dead-lettered delivery. Response excerpts are at most 1 KB and never stored when they echo
// what we sent (see shared/webhooks/worker.ts).
import { z } from "@hono/zod-openapi";
import { ApiError, json, route, type Router } from "../../../shared/http/index.ts";
import { toIso } from "../../../shared/schemas/index.ts";
import { DistributorHeader, EndpointParams, EventTypeSchema, manage, type RouteContext } from "./context.ts";
import { base64UrlToText, textToBase64Url } from "../../../shared/encoding/index.ts";

const Timestamp = z.string().openapi({ format: "date-time" });
const STATUSES = ["pending", "delivered", "dead"] as const;

const AttemptSchema = z.object({
  attempt_no: z.number().int(),
  started_at: Timestamp,
  duration_ms: z.number().int(),
  status_code: z.number().int().nullable(),
  error_class: z.string().nullable().openapi({ description: "null on 2xx; else timeout, connect_error, dns_error, address_refused, redirect, http_error, gone" }),
  response_excerpt: z.string().nullable().openapi({ description: "At most 1 KB of the receiver's answer; null when it echoed our data" }),
}).openapi("WebhookAttempt");

const DeliverySchema = z.object({
  id: z.string().uuid(),
  event_id: z.string().uuid(),
  event_type: EventTypeSchema,
  status: z.enum(STATUSES),
  attempt_count: z.number().int(),
  next_attempt_at: Timestamp.nullable(),
  last_status_code: z.number().int().nullable(),
  last_error: z.string().nullable(),
  created_at: Timestamp,
  delivered_at: Timestamp.nullable(),
  attempts: z.array(AttemptSchema),
}).openapi("WebhookDelivery");

/** Opaque keyset cursor: base64url of "<created_at ISO>|<id>". */
function encodeCursor(at: Date, id: string): string {
  return textToBase64Url(`${at.toISOString()}|${id}`);
}
function decodeCursor(raw: string): { at: Date; id: string } | null {
  let text: string;
  try {
    text = base64UrlToText(raw);
  } catch {
    return null;
  }
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\|([0-9a-f-]{36})$/.exec(text);
  return m && !Number.isNaN(Date.parse(m[1])) ? { at: new Date(m[1]), id: m[2] } : null;
}

const ListQuery = z.object({
  status: z.enum(STATUSES).optional().openapi({ param: { name: "status", in: "query" } }),
  cursor: z.string().max(200).refine((v) => decodeCursor(v) !== null, { message: "cursor malformed" })
    .optional().openapi({ param: { name: "cursor", in: "query" }, description: "next_cursor of the previous page" }),
  limit: z.coerce.number().int().min(1).max(100).default(20).openapi({ param: { name: "limit", in: "query" } }),
});

interface DeliveryRow {
  id: string; event_id: string; event_type: z.infer<typeof EventTypeSchema>; status: (typeof STATUSES)[number];
  attempt_count: number; next_attempt_at: Date; last_status_code: number | null; last_error: string | null;
  created_at: Date; delivered_at: Date | null;
  attempts: { attempt_no: number; started_at: string; duration_ms: number; status_code: number | null; error_class: string | null; response_excerpt: string | null }[];
}

export function deliveryRoutes(api: Router, ctx: RouteContext) {
  const { deps, auth } = ctx;

  api.openapi(
    route({
      method: "get", path: "/endpoints/{id}/deliveries", operationId: "listWebhookDeliveries",
      summary: "An endpoint's deliveries, newest first, each with its attempts (webhooks.manage)",
      middleware: [auth, manage(deps)] as const,
      request: { headers: DistributorHeader, params: EndpointParams, query: ListQuery },
      errors: ["not_found", "forbidden"],
      responses: {
        200: json(z.object({ items: z.array(DeliverySchema), next_cursor: z.string().nullable() }).openapi("WebhookDeliveryPage"), "A page"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const q = c.req.valid("query");
      const cur = q.cursor ? decodeCursor(q.cursor) : null;
      const t = c.get("tenant");
      const [exists, rows] = await t.transaction((tx) => Promise.all([
        tx<{ id: string }[]>`select id from public.webhook_endpoints where id = ${id} and distributor_id = ${t.id}`,
        tx<DeliveryRow[]>`
          select d.id, d.event_id, d.event_type, d.status, d.attempt_count, d.next_attempt_at, d.last_status_code, d.last_error,
                 d.created_at, d.delivered_at,
                 coalesce((select jsonb_agg(jsonb_build_object('attempt_no', a.attempt_no, 'started_at', a.started_at,
                            'duration_ms', a.duration_ms, 'status_code', a.status_code, 'error_class', a.error_class,
                            'response_excerpt', a.response_excerpt) order by a.attempt_no)
                           from public.webhook_attempts a where a.delivery_id = d.id), '[]') as attempts
          from public.webhook_deliveries d
          where d.endpoint_id = ${id} and d.distributor_id = ${t.id}
            ${q.status ? tx`and d.status = ${q.status}` : tx``}
            ${cur ? tx`and (d.created_at, d.id) < (${cur.at}, ${cur.id}::uuid)` : tx``}
          order by d.created_at desc, d.id desc
          limit ${q.limit + 1}`,
      ]));
      if (!exists.length) throw new ApiError("not_found", {}, "no such endpoint");
      const page = rows.slice(0, q.limit);
      const last = page[page.length - 1];
      return c.json({
        items: page.map((d) => ({
          id: d.id, event_id: d.event_id, event_type: d.event_type, status: d.status, attempt_count: d.attempt_count,
          next_attempt_at: d.status === "pending" ? toIso(d.next_attempt_at) : null,
          last_status_code: d.last_status_code, last_error: d.last_error, created_at: toIso(d.created_at), delivered_at: toIso(d.delivered_at),
          attempts: d.attempts.map((a) => ({ ...a, started_at: toIso(a.started_at) })),
        })),
        next_cursor: rows.length > q.limit && last ? encodeCursor(last.created_at, last.id) : null,
      }, 200);
    },
  );

  api.openapi(
    route({
      method: "post", path: "/deliveries/{id}/retry", operationId: "retryWebhookDelivery",
      summary: "Deliver a dead-lettered delivery again, with a fresh retry schedule (webhooks.manage)",
      middleware: [auth, manage(deps)] as const,
      request: {
        headers: DistributorHeader,
        params: z.object({ id: z.string().uuid().openapi({ param: { name: "id", in: "path" }, description: "Delivery id" }) }),
      },
      errors: ["not_found", "forbidden", "conflict"],
      responses: { 202: json(z.object({ id: z.string().uuid(), status: z.literal("pending") }).openapi("WebhookRetryQueued"), "Queued") },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const t = c.get("tenant");
      const now = deps.now();
      const [row] = await t.transaction(async (tx) => {
        const [rows] = await Promise.all([
          tx<{ status: string; retried: boolean }[]>`
            with d as (select id, status from public.webhook_deliveries where id = ${id} and distributor_id = ${t.id} for update),
            u as (
              update public.webhook_deliveries w set status = 'pending', next_attempt_at = ${now}, schedule_base = w.attempt_count,
                     last_error = null, updated_at = ${now}
              from d where w.id = d.id and d.status = 'dead'
              returning w.id)
            select d.status, exists (select 1 from u) as retried from d`,
          t.audit(tx, "webhook.delivery.retry", "webhook_deliveries", id),
        ]);
        if (!rows.length) throw new ApiError("not_found", {}, "no such row"); // rolls the audit row back
        return rows;
      });
      if (!row) throw new ApiError("not_found", {}, "no such delivery");
      if (!row.retried) throw new ApiError("conflict", {}, `delivery is ${row.status}`);
      return c.json({ id, status: "pending" as const }, 202);
    },
  );
}
