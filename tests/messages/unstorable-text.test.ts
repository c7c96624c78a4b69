// Text PostgreSQL cannot store as given (NUL, lone UTF-16 surrogates) is refused with 400 naming
// the field, on every field a caller writes (shared/schemas text()); nothing is stored.
import { describe, expect } from "vitest";
import { test } from "../support/messages.ts";

const BAD = ["a\u0000b", "x\ud800y", "\udc00", "end\ud83d"];

describe("NUL and lone surrogates in user text", () => {
  test("POST / content, POST /orders sku and notes, PATCH /customers tags, name and notes → 400 with the field path", async ({ arrange, api, sql }) => {
    const w = await arrange.world();
    const before = await arrange.messageCount(w.t.id);
    for (const bad of BAD) {
      const cases: [string, string, unknown, string][] = [
        ["POST", "", { conversation_id: w.webConversationId, content: bad }, "content"],
        ["POST", "/orders", { customer_id: w.customerId, items: [{ sku: bad, quantity: 1 }] }, "items.0.sku"],
        ["POST", "/orders", { customer_id: w.customerId, items: [{ sku: "A", quantity: 1 }], notes: bad }, "notes"],
        ["PATCH", `/customers/${w.customerId}`, { tags: ["ok", bad] }, "tags.1"],
        ["PATCH", `/customers/${w.customerId}`, { name: bad }, "name"],
        ["PATCH", `/customers/${w.customerId}`, { notes: bad }, "notes"],
      ];
      for (const [method, path, body, field] of cases) {
        const res = await api(method, path, w.t.users.OWNER.token, w.t.id, { body });
        expect([method, path, field, res.status]).toEqual([method, path, field, 400]);
        const json = await res.json();
        expect(json.issues).toEqual([{ in: "body", path: field, code: "invalid_format" }]);
      }
    }
    expect(await arrange.messageCount(w.t.id)).toBe(before);
    const [{ n }] = await sql`select count(*)::int as n from public.orders where distributor_id = ${w.t.id}`;
    expect(n).toBe(1); // the world's own order only
  });

  test("a surrogate pair (emoji) is fine", async ({ arrange, api }) => {
    const w = await arrange.world();
    const res = await api("POST", "", w.t.users.OWNER.token, w.t.id, { body: { conversation_id: w.webConversationId, content: "thanks 😀" } });
    expect(res.status).toBe(201);
  });
});
