// Event producers (issue 14): every change writes its outbox row in the same transaction, with
// ids and types only: message.status_updated (webhook-whatsapp), order.created, order.confirmed
// and customer.updated (messages). A refused change writes none.
import { describe, expect } from "vitest";
import { createApp as createWhatsapp } from "../../functions/webhook-whatsapp/app.ts";
import { TEST_WHATSAPP_APP_SECRET } from "../support/harness.ts";
import { connectWhatsapp } from "../support/tenancy.ts";
import { signedHeaders, status, statusesPayload, wamid } from "../support/meta.ts";
import { test } from "../support/messages.ts";

const outboxOf = (sql: import("postgres").Sql, distributorId: string, type: string) =>
  sql`select payload from public.event_outbox where distributor_id = ${distributorId} and event_type = ${type} order by created_at`;

describe("event producers", () => {
  test("POST /orders → order.created; confirm → order.confirmed; a refused confirm → none", async ({ arrange, api, sql }) => {
    const w = await arrange.world("Producers Orders");
    const res = await api("POST", "/orders", w.t.users.MANAGER.token, w.t.id, {
      body: { customer_id: w.customerId, items: [{ sku: "A", quantity: 1 }], notes: "CANARY secret note" },
    });
    expect(res.status).toBe(201);
    const order = await res.json();
    expect((await outboxOf(sql, w.t.id, "order.created")).map((r) => r.payload))
      .toEqual([{ order_id: order.id, customer_id: w.customerId, conversation_id: null }]);
    expect((await api("POST", `/orders/${order.id}/confirm`, w.t.users.OPERATOR.token, w.t.id)).status).toBe(403);
    expect(await outboxOf(sql, w.t.id, "order.confirmed")).toHaveLength(0);
    expect((await api("POST", `/orders/${order.id}/confirm`, w.t.users.MANAGER.token, w.t.id)).status).toBe(200);
    expect((await api("POST", `/orders/${order.id}/confirm`, w.t.users.MANAGER.token, w.t.id)).status).toBe(409);
    expect((await outboxOf(sql, w.t.id, "order.confirmed")).map((r) => r.payload))
      .toEqual([{ order_id: order.id, customer_id: w.customerId, conversation_id: null }]);
    const all = await sql`select payload::text as p from public.event_outbox where distributor_id = ${w.t.id}`;
    expect(all.map((r) => r.p).join()).not.toContain("CANARY");
  });

  test("PATCH /customers/:id → customer.updated with the id only", async ({ arrange, api, sql }) => {
    const w = await arrange.world("Producers Customers");
    const res = await api("PATCH", `/customers/${w.customerId}`, w.t.users.MANAGER.token, w.t.id, { body: { name: "CANARY Name", email: "canary@example.com" } });
    expect(res.status).toBe(200);
    expect((await outboxOf(sql, w.t.id, "customer.updated")).map((r) => r.payload)).toEqual([{ customer_id: w.customerId }]);
    expect((await api("PATCH", `/customers/${w.customerId}`, w.t.users.OPERATOR.token, w.t.id, { body: { name: "x" } })).status).toBe(403);
    expect(await outboxOf(sql, w.t.id, "customer.updated")).toHaveLength(1);
  });

  test("a WhatsApp status that moves a message forward → message.status_updated (ids and status)", async ({ arrange, deps, sql }) => {
    const w = await arrange.world("Producers Statuses");
    const phoneId = `1${String(Math.floor(Math.random() * 1e15)).padStart(15, "0")}`;
    await connectWhatsapp(deps, sql, w.t.id, phoneId);
    const ext = wamid();
    const messageId = await arrange.addMessage(w.t, w.conversationId, { direction: "outbound", status: "sent", externalId: ext, content: { text: "CANARY body" } });
    const app = createWhatsapp(deps);
    const send = async (s: "delivered" | "sent") => {
      const body = JSON.stringify(statusesPayload(phoneId, [status(ext, s)]));
      const res = await app.request("http://localhost/functions/v1/webhook-whatsapp", { method: "POST", headers: signedHeaders(body, TEST_WHATSAPP_APP_SECRET), body });
      expect(res.status).toBe(200);
    };
    await send("delivered");
    await send("sent"); // never downgrades: no event
    expect((await outboxOf(sql, w.t.id, "message.status_updated")).map((r) => r.payload))
      .toEqual([{ message_id: messageId, conversation_id: w.conversationId, status: "delivered", channel: "whatsapp" }]);
  });
});
