// GET /orders, POST /orders, POST /orders/{id}/confirm (functions/messages/routes/orders.ts).
import { describe, expect } from "vitest";
import { openFor } from "../../shared/tenancy/index.ts";
import { test } from "../support/messages.ts";
import { expectError } from "../support/security.ts";

describe("orders", () => {
  test("POST /orders computes the total, seals notes, audits; GET /orders lists them decrypted", async ({ arrange, api, sql }) => {
    const w = await arrange.world();
    const u = w.t.users.MANAGER;
    const res = await api("POST", "/orders", u.token, w.t.id, {
      body: {
        customer_id: w.customerId, conversation_id: w.conversationId,
        items: [{ sku: "WATER-6", quantity: 3, unit_price: 4.5 }, { sku: "CUP", quantity: 100, unit_price: 0.1 }, { sku: "FREEBIE", quantity: 1 }],
        notes: "Leave at the back door, code 4411",
      },
    });
    expect(res.status).toBe(201);
    const order = await res.json();
    expect(order).toEqual({
      id: expect.any(String), customer_id: w.customerId, conversation_id: w.conversationId, status: "pending",
      // Money is a decimal string in every response, whatever form the request used.
      items: [{ sku: "WATER-6", quantity: 3, unit_price: "4.50" }, { sku: "CUP", quantity: 100, unit_price: "0.10" }, { sku: "FREEBIE", quantity: 1 }],
      total: "23.50", notes: "Leave at the back door, code 4411", created_at: expect.any(String), confirmed_at: null,
    });
    const [row] = await sql`select * from public.orders where id = ${order.id}`;
    expect(row).toMatchObject({ distributor_id: w.t.id, total: "23.50", created_by: u.id, status: "pending" });
    expect(JSON.stringify(row)).not.toContain("back door");
    expect(await openFor(await arrange.keysOf(w.t), "orders", order.id, { encryptedValue: row.notes_encrypted, iv: row.notes_iv, keyVersion: row.key_version }))
      .toBe("Leave at the back door, code 4411");
    expect(await arrange.auditRows(w.t.id, "orders.create")).toEqual([expect.objectContaining({ record_id: order.id, user_id: u.id, details: { items: 3 } })]);

    const list = await (await api("GET", "/orders", w.t.users.OPERATOR.token, w.t.id)).json();
    expect(list.orders[0]).toEqual(order);
    expect(list.orders).toHaveLength(2);
    expect(list.orders[1]).toMatchObject({ id: w.orderId, total: "2.50", notes: null });
    const audit = await arrange.auditRows(w.t.id, "orders.read");
    expect(audit.map((a) => a.details)).toEqual([{ count: 2 }]);
  });

  test("an order without prices has no total; without a conversation, conversation_id is null", async ({ arrange, api }) => {
    const w = await arrange.world();
    const res = await api("POST", "/orders", w.t.users.OWNER.token, w.t.id, { body: { customer_id: w.customerId, items: [{ sku: "A", quantity: 1 }] } });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ total: null, conversation_id: null, notes: null });
  });

  test("validation → 400 and nothing stored; another customer's conversation → 404", async ({ arrange, api, sql }) => {
    const w = await arrange.world();
    const tk = w.t.users.OWNER.token;
    const item = { sku: "A", quantity: 1, unit_price: 1 };
    const bad: [string, unknown][] = [
      ["no items", { customer_id: w.customerId, items: [] }],
      ["101 items", { customer_id: w.customerId, items: Array.from({ length: 101 }, () => item) }],
      ["quantity 0", { customer_id: w.customerId, items: [{ ...item, quantity: 0 }] }],
      ["quantity 1.5", { customer_id: w.customerId, items: [{ ...item, quantity: 1.5 }] }],
      ["quantity over 1e6", { customer_id: w.customerId, items: [{ ...item, quantity: 1_000_001 }] }],
      ["quantity as string", { customer_id: w.customerId, items: [{ ...item, quantity: "1" }] }],
      ["negative price", { customer_id: w.customerId, items: [{ ...item, unit_price: -1 }] }],
      ["three decimals", { customer_id: w.customerId, items: [{ ...item, unit_price: 1.234 }] }],
      ["empty sku", { customer_id: w.customerId, items: [{ ...item, sku: "" }] }],
      ["65-character sku", { customer_id: w.customerId, items: [{ ...item, sku: "s".repeat(65) }] }],
      ["unknown item field", { customer_id: w.customerId, items: [{ ...item, discount: 5 }] }],
      ["client total", { customer_id: w.customerId, items: [item], total: 0 }],
      ["missing customer", { items: [item] }],
      ["total out of range", { customer_id: w.customerId, items: Array.from({ length: 100 }, () => ({ sku: "B", quantity: 1_000_000, unit_price: 1_000_000_000 })) }],
    ];
    for (const [what, body] of bad) expect((await api("POST", "/orders", tk, w.t.id, { body })).status, what).toBe(400);
    const otherCustomer = await arrange.addCustomer(w.t, { name: "Other" });
    await expectError(await api("POST", "/orders", tk, w.t.id, {
      body: { customer_id: otherCustomer, conversation_id: w.conversationId, items: [item] },
    }), 404, "Not found");
    await expectError(await api("POST", "/orders", tk, w.t.id, { body: { customer_id: crypto.randomUUID(), items: [item] } }), 404, "Not found");
    const [{ n }] = await sql`select count(*)::int as n from public.orders where distributor_id = ${w.t.id}`;
    expect(n).toBe(1);
  });

  test("permission before validation: an OPERATOR posting an invalid order gets 403, not 400", async ({ api, A }) => {
    await expectError(await api("POST", "/orders", A.t.users.OPERATOR.token, A.t.id, { body: { items: "nope" } }), 403, "Forbidden");
    await expectError(await api("POST", "/orders", A.t.users.OPERATOR.token, A.t.id, { body: "{not json" }), 403, "Forbidden");
  });

  test("GET /orders pages and filters by status", async ({ arrange, api }) => {
    const w = await arrange.world();
    for (let i = 0; i < 4; i++) await arrange.addOrder(w.t, w.customerId, { status: i % 2 ? "confirmed" : "pending", createdAt: "2026-08-01T00:00:00Z", notes: `note ${i}` });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const body = await (await api("GET", `/orders?limit=2${cursor ? `&cursor=${cursor}` : ""}`, w.t.users.OPERATOR.token, w.t.id)).json();
      seen.push(...body.orders.map((o: { id: string }) => o.id));
      cursor = body.next_cursor;
    } while (cursor);
    expect(new Set(seen).size).toBe(5);
    const confirmed = await (await api("GET", "/orders?status=confirmed", w.t.users.OPERATOR.token, w.t.id)).json();
    expect(confirmed.orders).toHaveLength(2);
    expect(confirmed.orders.map((o: { notes: string }) => o.notes).sort()).toEqual(["note 1", "note 3"]);
  });

  test("POST /orders/:id/confirm: pending → confirmed once; then 409; cancelled → 409; other tenant → 404", async ({ arrange, api, sql, B }) => {
    const w = await arrange.world();
    const u = w.t.users.MANAGER;
    const id = await arrange.addOrder(w.t, w.customerId, { notes: "fragile" });
    const res = await api("POST", `/orders/${id}/confirm`, u.token, w.t.id);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id, status: "confirmed", notes: "fragile", confirmed_at: expect.any(String), total: "2.50" });
    const [row] = await sql`select status, confirmed_by, confirmed_at from public.orders where id = ${id}`;
    expect(row).toMatchObject({ status: "confirmed", confirmed_by: u.id });
    await expectError(await api("POST", `/orders/${id}/confirm`, u.token, w.t.id), 409, "Conflict");
    const cancelled = await arrange.addOrder(w.t, w.customerId, { status: "cancelled" });
    await expectError(await api("POST", `/orders/${cancelled}/confirm`, u.token, w.t.id), 409, "Conflict");
    await expectError(await api("POST", `/orders/${B.orderId}/confirm`, u.token, w.t.id), 404, "Not found");
    await expectError(await api("POST", `/orders/${crypto.randomUUID()}/confirm`, u.token, w.t.id), 404, "Not found");
    expect((await arrange.auditRows(w.t.id, "orders.confirm")).map((a) => a.record_id)).toEqual([id]);
  });

  test("two concurrent confirms: exactly one wins", async ({ arrange, api }) => {
    const w = await arrange.world();
    const id = await arrange.addOrder(w.t, w.customerId);
    const [r1, r2] = await Promise.all([
      api("POST", `/orders/${id}/confirm`, w.t.users.OWNER.token, w.t.id),
      api("POST", `/orders/${id}/confirm`, w.t.users.ADMIN.token, w.t.id),
    ]);
    expect([r1.status, r2.status].sort()).toEqual([200, 409]);
  });
});
