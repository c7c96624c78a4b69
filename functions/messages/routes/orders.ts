// GET /orders, POST /orders, POST /orders/{id}/confirm.
// Totals are computed here, in integer cents (BigInt), never taken from the caller; notes are
// sealed with the distributor's key (AAD orders:<id>).
import { z } from "@hono/zod-openapi";
import { ApiError, json, jsonBody, route, type Router } from "../../../shared/http/index.ts";
import { openFor, sealFor, tenant, type DistributorKeys } from "../../../shared/tenancy/index.ts";
import { auditedPage, DistributorHeaders, NO_STORE, pageQuery, uuidParam, type RouteContext } from "./context.ts";
import { centsToMoney, MONEY, moneyToCents, text, toIso } from "../../../shared/schemas/index.ts";

const ORDER_STATUSES = ["pending", "confirmed", "cancelled"] as const;
/** numeric(14, 2): at most 999,999,999,999.99. */
const TOTAL_MAX_CENTS = 99_999_999_999_999n;

/** Money in requests: "12.50" (preferred) or 12.5; ≥ 0, at most two decimals, at most 1,000,000,000. */
const price = z.union([z.string(), z.number()])
  .refine((p) => MONEY.test(String(p)) && moneyToCents(p) <= 100_000_000_000n, { message: "0 to 1,000,000,000 with at most two decimals" })
  .transform((p) => centsToMoney(moneyToCents(p)))
  .openapi({ description: "Decimal string (\"12.50\") or number; ≥ 0, at most two decimals", example: "12.50" });

const OrderItem = z.object({
  sku: text().trim().min(1).max(64),
  quantity: z.number().int().positive().max(1_000_000),
  unit_price: price.optional(),
}).strict().openapi("OrderItem");

const OrderItemOut = z.object({
  sku: z.string(),
  quantity: z.number().int(),
  unit_price: z.string().optional().openapi({ description: "Decimal string with two decimals", example: "4.50" }),
}).openapi("OrderItemOut");

export const OrderCreate = z.object({
  customer_id: z.string().uuid(),
  conversation_id: z.string().uuid().nullable().optional()
    .openapi({ description: "A conversation of the same customer" }),
  items: z.array(OrderItem).min(1).max(100),
  notes: text().trim().max(5000).optional(),
}).strict().openapi("OrderCreate");

const Order = z.object({
  id: z.string().uuid(),
  customer_id: z.string().uuid(),
  conversation_id: z.string().uuid().nullable(),
  status: z.enum(ORDER_STATUSES),
  items: z.array(OrderItemOut),
  total: z.string().nullable().openapi({ description: "Decimal string, e.g. \"12.50\"; null when no item has a price", example: "12.50" }),
  notes: z.string().nullable(),
  created_at: z.string(),
  confirmed_at: z.string().nullable(),
}).openapi("Order");

const OrderList = z.object({ orders: z.array(Order), next_cursor: z.string().nullable() }).openapi("OrderList");
const OrderQuery = z.object({
  status: z.enum(ORDER_STATUSES).optional().openapi({ param: { name: "status", in: "query" } }),
  ...pageQuery,
});
const IdParam = z.object({ id: uuidParam("id") });

type Item = z.infer<typeof OrderItem>;

/** Σ quantity × unit_price in cents over the priced items; null when none is priced. */
export function orderTotal(items: Item[]): string | null {
  if (!items.some((i) => i.unit_price !== undefined)) return null;
  let cents = 0n;
  for (const i of items) {
    if (i.unit_price !== undefined) cents += BigInt(i.quantity) * moneyToCents(i.unit_price);
  }
  if (cents > TOTAL_MAX_CENTS) {
    throw new ApiError("invalid_request", {}, "order total out of range", [{ in: "body", path: "items", code: "too_big" }]);
  }
  return centsToMoney(cents);
}

interface OrderRow {
  id: string;
  customer_id: string;
  conversation_id: string | null;
  status: (typeof ORDER_STATUSES)[number];
  items: { sku: string; quantity: number; unit_price?: string | number }[];
  total: string | null;
  notes_encrypted: string | null;
  notes_iv: string | null;
  key_version: number | null;
  created_at: string;
  confirmed_at: string | null;
}

async function toOrder(keys: DistributorKeys | null, r: OrderRow) {
  let notes: string | null = null;
  if (r.notes_encrypted && r.notes_iv && r.key_version != null && keys) {
    try {
      notes = await openFor(keys, "orders", r.id, { encryptedValue: r.notes_encrypted, iv: r.notes_iv, keyVersion: r.key_version });
    } catch {
      throw new ApiError("internal", {}, `order ${r.id} notes did not decrypt`);
    }
  }
  return {
    id: r.id, customer_id: r.customer_id, conversation_id: r.conversation_id, status: r.status,
    // Orders stored before money became strings hold numbers: one format out either way.
    items: r.items.map(({ unit_price, ...i }) => (unit_price === undefined ? i : { ...i, unit_price: centsToMoney(moneyToCents(unit_price)) })),
    total: r.total === null ? null : centsToMoney(moneyToCents(r.total)), notes,
    created_at: toIso(r.created_at), confirmed_at: toIso(r.confirmed_at),
  };
}

const needsKeys = (rows: OrderRow[]) => rows.some((r) => r.notes_encrypted);

export function orderRoutes(api: Router, { deps, auth }: RouteContext): void {
  api.openapi(route({
    method: "get", path: "/orders", tags: ["orders"], operationId: "listOrders",
    summary: "List orders, newest first (orders.read; audited)",
    middleware: [auth, tenant(deps, "orders.read")] as const,
    request: { headers: DistributorHeaders, query: OrderQuery },
    errors: ["forbidden", "not_found"],
    responses: { 200: json(OrderList, "A page of orders", NO_STORE) },
  }), async (c) => {
    const q = c.req.valid("query");
    const t = c.get("tenant");
    const result = await t.transaction(async (tx) => {
      const p = await auditedPage<OrderRow>(tx, t, {
        rows: tx`select id, customer_id, conversation_id, status, items, total::text as total,
                        notes_encrypted, notes_iv, key_version, created_at, confirmed_at
                 from public.orders where distributor_id = ${t.id} ${q.status ? tx`and status = ${q.status}` : tx``}`,
        cursor: q.cursor, limit: q.limit, action: "orders.read", table: "orders",
      });
      const keys = needsKeys(p.items) ? await t.keys(tx) : null;
      return { orders: await Promise.all(p.items.map((x) => toOrder(keys, x))), next_cursor: p.next_cursor };
    });
    return c.json(result, 200);
  });

  api.openapi(route({
    method: "post", path: "/orders", tags: ["orders"], operationId: "createOrder",
    summary: "Create an order for a customer of this distributor (orders.create; audited)",
    description: "The total is computed from the items (quantity × unit_price, in cents), never taken from the caller.",
    middleware: [auth, tenant(deps, "orders.create")] as const,
    request: { headers: DistributorHeaders, body: jsonBody(OrderCreate) },
    errors: ["forbidden", "not_found"],
    responses: { 201: json(Order, "Created (status pending)", NO_STORE) },
  }), async (c) => {
    const o = c.req.valid("json");
    const t = c.get("tenant");
    const orderId = crypto.randomUUID();
    const order = await t.transaction(async (tx) => {
      const total = orderTotal(o.items);
      const notes = o.notes ? o.notes : null;
      // Keys only for confirmed members (t.keys awaits the gate).
      const sealed = notes ? await sealFor(await t.keys(tx), "orders", orderId, notes) : null;
      const conversationId = o.conversation_id ?? null;
      const [row] = await tx<OrderRow[]>`
        with cu as (
          select id from public.customers where id = ${o.customer_id} and distributor_id = ${t.id}
        ), ins as (
          insert into public.orders (id, distributor_id, customer_id, conversation_id, items, total,
                                     notes_encrypted, notes_iv, key_version, created_by)
          select ${orderId}, ${t.id}, cu.id, ${conversationId}, ${tx.json(o.items)}, ${total}::numeric,
                 ${sealed?.encryptedValue ?? null}, ${sealed?.iv ?? null}, ${sealed?.keyVersion ?? null}, ${t.user.id}
          from cu
          where ${conversationId}::uuid is null
             or exists (select 1 from public.conversations cv
                        where cv.id = ${conversationId}::uuid and cv.distributor_id = ${t.id} and cv.customer_id = cu.id)
          returning id, customer_id, conversation_id, status, items, total::text as total,
                    to_json(created_at) #>> '{}' as created_at
        ), audit as (
          select ${t.auditCall(tx, "orders.create", "orders", {
            recordIdSql: tx`ins.id`, detailsSql: tx`jsonb_build_object('items', ${o.items.length}::int)`,
          })}
          from ins
        ), ev as (
          -- outbound webhooks: ids only, in this transaction (migration 20261202004200)
          insert into public.event_outbox (distributor_id, event_type, payload)
          select ${t.id}, 'order.created', jsonb_build_object('order_id', ins.id, 'customer_id', ins.customer_id, 'conversation_id', ins.conversation_id)
          from ins
        )
        select ins.*, (select count(*) from audit)::int as audited from ins`;
      await t.verified();
      if (!row) throw new ApiError("not_found", {}, "customer or conversation not visible");
      return { ...(await toOrder(null, { ...row, notes_encrypted: null, notes_iv: null, key_version: null, confirmed_at: null })), notes };
    });
    return c.json(order, 201);
  });

  api.openapi(route({
    method: "post", path: "/orders/{id}/confirm", tags: ["orders"], operationId: "confirmOrder",
    summary: "Confirm a pending order (orders.confirm; audited)",
    middleware: [auth, tenant(deps, "orders.confirm")] as const,
    request: { headers: DistributorHeaders, params: IdParam },
    errors: ["forbidden", "not_found", "conflict"],
    responses: { 200: json(Order, "Confirmed", NO_STORE) },
  }), async (c) => {
    const { id } = c.req.valid("param");
    const t = c.get("tenant");
    const order = await t.transaction(async (tx) => {
      const confirmed = tx<OrderRow[]>`
        with u as (
          update public.orders set status = 'confirmed', confirmed_by = ${t.user.id}, confirmed_at = now(), updated_at = now()
          where id = ${id} and distributor_id = ${t.id} and status = 'pending'
          returning id, customer_id, conversation_id, status, items, total::text as total,
                    notes_encrypted, notes_iv, key_version,
                    to_json(created_at) #>> '{}' as created_at, to_json(confirmed_at) #>> '{}' as confirmed_at
        ), audit as (
          select ${t.auditCall(tx, "orders.confirm", "orders", { recordIdSql: tx`u.id`, detailsSql: tx`'{}'::jsonb` })}
          from u
        ), ev as (
          insert into public.event_outbox (distributor_id, event_type, payload)
          select ${t.id}, 'order.confirmed', jsonb_build_object('order_id', u.id, 'customer_id', u.customer_id, 'conversation_id', u.conversation_id)
          from u
        )
        select u.*, (select count(*) from audit)::int as audited from u`;
      // Pipelined behind the update, so it sees its result: tells 404 from 409.
      const existing = tx<{ status: string }[]>`select status from public.orders where id = ${id} and distributor_id = ${t.id}`;
      const [[row], [prior]] = await Promise.all([confirmed, existing]);
      await t.verified();
      if (!row) throw new ApiError(prior ? "conflict" : "not_found", {}, prior ? `order is ${prior.status}` : "order not visible");
      return await toOrder(row.notes_encrypted ? await t.keys(tx) : null, row);
    });
    return c.json(order, 200);
  });
}
