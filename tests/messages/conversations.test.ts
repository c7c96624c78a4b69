// GET /conversations and GET /conversations/{id}/messages (functions/messages/routes/conversations.ts).
import { describe, expect } from "vitest";
import type postgres from "postgres";
import { sealPreview, type MessageContent } from "../../shared/messaging/index.ts";
import { test, type arranger } from "../support/messages.ts";
import { expectError } from "../support/security.ts";
import type { Tenant } from "../support/tenancy.ts";

/** A message whose preview is stored as the code stores it: sealed, bound to the message. */
async function addSealedMessage(
  arrange: ReturnType<typeof arranger>, sql: postgres.Sql, t: Tenant, conversationId: string, preview: string,
  o: { createdAt?: string; content?: MessageContent } = {},
) {
  const id = await arrange.addMessage(t, conversationId, { createdAt: o.createdAt, content: o.content });
  await sql`update public.messages set preview = ${await sealPreview(await arrange.keysOf(t), id, preview)} where id = ${id}`;
  return id;
}

describe("GET /conversations", () => {
  test("lists with the documented fields, masked previews, most recent first, nulls last, filtered by status", async ({ arrange, api, sql }) => {
    const w = await arrange.world();
    const cu = await arrange.addCustomer(w.t, { name: "Bob" });
    const older = await arrange.addConversation(w.t, cu, { channel: "sms", status: "pending", lastMessageAt: "2026-01-01T10:00:00.000001Z" });
    await addSealedMessage(arrange, sql, w.t, older, "Call [PHONE_1]");
    const never = await arrange.addConversation(w.t, cu, { channel: "email", status: "closed", lastMessageAt: null, preview: null });
    const res = await api("GET", "/conversations", w.t.users.OPERATOR.token, w.t.id);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = await res.json();
    expect(body.next_cursor).toBeNull();
    const ids = body.conversations.map((c: { id: string }) => c.id);
    expect(ids.slice(-2)).toEqual([older, never]);
    const o = body.conversations.find((c: { id: string }) => c.id === older);
    expect(o).toEqual({
      id: older, customer_id: cu, channel: "sms", status: "pending", last_message_at: "2026-01-01T10:00:00.000Z", preview: "Call [PHONE_1]",
    });
    const pending = await (await api("GET", "/conversations?status=pending", w.t.users.OPERATOR.token, w.t.id)).json();
    expect(pending.conversations.map((c: { id: string }) => c.id)).toEqual([older]);
    const closed = await (await api("GET", "/conversations?status=closed", w.t.users.OPERATOR.token, w.t.id)).json();
    expect(closed.conversations).toEqual([expect.objectContaining({ id: never, last_message_at: null, preview: null })]);
  });

  test("the preview is the latest remaining message's, sealed at rest; a cleared legacy preview is rebuilt from the content", async ({ arrange, api, sql }) => {
    const w = await arrange.world();
    const listed = async () => new Map<string, string | null>(
      (await (await api("GET", "/conversations?limit=100", w.t.users.OPERATOR.token, w.t.id)).json()).conversations
        .map((c: { id: string; preview: string | null }) => [c.id, c.preview]),
    );
    // The world's message carries a legacy clear preview ("hello", written before sealing): read as is.
    expect((await listed()).get(w.conversationId)).toBe("hello");
    // Latest by Meta's timestamp when there is one (an older message delivered late does not win).
    const a = await arrange.addConversation(w.t, w.customerId, { channel: "sms" });
    const late = await addSealedMessage(arrange, sql, w.t, a, "delivered late, written earlier");
    await sql`update public.messages set external_timestamp = '2026-01-01T00:00:00Z' where id = ${late}`;
    await addSealedMessage(arrange, sql, w.t, a, "the newest", { createdAt: "2026-01-02T00:00:00Z" });
    expect((await listed()).get(a)).toBe("the newest");
    // A preview cleared by 20261202000500 (null): rebuilt from the sealed content, masked.
    const b = await arrange.addConversation(w.t, w.customerId, { channel: "email" });
    const legacy = await arrange.addMessage(w.t, b, { content: { text: "Hi,\n this is Ann, ann.legacy@example.com" } });
    await sql`update public.messages set preview = null where id = ${legacy}`;
    expect((await listed()).get(b)).toBe("Hi, this is Ann, [EMAIL_1]");
    // Every message deleted → no preview.
    await sql`update public.messages set deleted_at = now() where conversation_id = ${b}`;
    expect((await listed()).get(b)).toBeNull();
    // A sealed preview is bound to its message: copied onto another row it does not open (500, generic).
    const [src] = await sql`select preview from public.messages where id = ${late}`;
    const c = await arrange.addConversation(w.t, await arrange.addCustomer(w.t, { name: "Cy" }), { channel: "web" });
    const victim = await arrange.addMessage(w.t, c);
    await sql`update public.messages set preview = ${src.preview} where id = ${victim}`;
    await expectError(await api("GET", "/conversations?limit=100", w.t.users.OPERATOR.token, w.t.id), 500, "Internal server error");
  });

  test("pages with opaque keyset cursors: no duplicates, no gaps, ties and nulls included", async ({ arrange, api }) => {
    const w = await arrange.world();
    const same = "2026-02-02T12:00:00.123456Z";
    const expected: string[] = [];
    for (let i = 0; i < 9; i++) {
      const cu = await arrange.addCustomer(w.t, { name: `C${i}` });
      const lastMessageAt = i < 4 ? same : i < 6 ? `2026-02-0${i - 3}T00:00:00Z` : null;
      expected.push(await arrange.addConversation(w.t, cu, { lastMessageAt, channel: "web" }));
    }
    const all = (await (await api("GET", "/conversations?limit=100", w.t.users.OWNER.token, w.t.id)).json()).conversations
      .map((c: { id: string }) => c.id);
    expect(all).toHaveLength(11); // + the world's two
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await api("GET", `/conversations?limit=2${cursor ? `&cursor=${cursor}` : ""}`, w.t.users.OWNER.token, w.t.id);
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(body.conversations.length).toBeLessThanOrEqual(2);
      seen.push(...body.conversations.map((c: { id: string }) => c.id));
      cursor = body.next_cursor;
      if (cursor) expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
      pages++;
    } while (cursor && pages < 20);
    expect(seen).toEqual(all);
    expect(new Set(seen).size).toBe(11);
    for (const id of expected) expect(seen).toContain(id);
  });

  test("rejects bad queries with 400", async ({ api, A }) => {
    const tk = A.t.users.OWNER.token;
    for (const q of ["limit=0", "limit=101", "limit=abc", "status=archived", "cursor=!!", `cursor=${btoa("[1,2]")}`, "cursor=abc"]) {
      expect((await api("GET", `/conversations?${q}`, tk, A.t.id)).status, q).toBe(400);
    }
    expect((await api("GET", "/conversations?limit=100", tk, A.t.id)).status).toBe(200);
  });
});

describe("GET /conversations/:id/messages", () => {
  test("decrypts content newest first, leaves out deleted messages, and audits each read once", async ({ arrange, api, sql }) => {
    const w = await arrange.world();
    const conv = await arrange.addConversation(w.t, w.customerId, { channel: "sms" });
    const m1 = await arrange.addMessage(w.t, conv, { content: { text: "my card is 4111 1111 1111 1111" }, createdAt: "2026-03-01T10:00:00Z", externalId: "wamid.in1" });
    const m2 = await arrange.addMessage(w.t, conv, {
      content: { caption: "the invoice", media: { id: "media-1", mime_type: "image/jpeg" } }, type: "image", createdAt: "2026-03-01T10:01:00Z",
    });
    const m3 = await arrange.addMessage(w.t, conv, { content: { text: "sorry" }, direction: "outbound", status: "read", createdAt: "2026-03-01T10:02:00Z" });
    await sql`update public.messages set deleted_at = now() where id = ${m3}`;
    const res = await api("GET", `/conversations/${conv}/messages`, w.t.users.OPERATOR.token, w.t.id, {
      headers: { "x-forwarded-for": "198.51.100.4", "user-agent": "vitest" },
    });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toEqual({
      messages: [
        {
          id: m2, direction: "inbound", message_type: "image", content: "the invoice", status: "received", external_id: null,
          details: { caption: "the invoice", media: { id: "media-1", mime_type: "image/jpeg" } }, created_at: "2026-03-01T10:01:00.000Z",
        },
        {
          id: m1, direction: "inbound", message_type: "text", content: "my card is 4111 1111 1111 1111", status: "received",
          external_id: "wamid.in1", details: null, created_at: "2026-03-01T10:00:00.000Z",
        },
      ],
      next_cursor: null,
    });
    const audit = await arrange.auditRows(w.t.id, "messages.read_content");
    expect(audit).toEqual([{
      action: "messages.read_content", table_name: "messages", record_id: conv, user_id: w.t.users.OPERATOR.id,
      details: { count: 2 }, ip: "198.51.100.4", user_agent: "vitest",
    }]);
    expect(JSON.stringify(audit)).not.toContain("4111");
  });

  test("pages newest first without duplicates or gaps (equal timestamps too), one audit row per page", async ({ arrange, api }) => {
    const w = await arrange.world();
    const conv = await arrange.addConversation(w.t, w.customerId, { channel: "email" });
    const ids: string[] = [];
    // ties, and timestamps apart by one microsecond only (a millisecond cursor would repeat or skip rows)
    const at = ["2026-04-01T00:00:00.5Z", "2026-04-01T00:00:00.5Z", "2026-04-01T00:00:00.500001Z", "2026-04-01T00:00:00.500002Z",
      "2026-04-01T00:00:00.500003Z", "2026-04-01T00:00:00.500003Z", "2026-04-02T00:00:00Z"];
    for (let i = 0; i < 7; i++) ids.push(await arrange.addMessage(w.t, conv, { content: { text: `m${i}` }, createdAt: at[i] }));
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const body = await (await api("GET", `/conversations/${conv}/messages?limit=3${cursor ? `&cursor=${cursor}` : ""}`, w.t.users.OWNER.token, w.t.id)).json();
      seen.push(...body.messages.map((m: { id: string }) => m.id));
      cursor = body.next_cursor;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(new Set(seen).size).toBe(7);
    expect(new Set(seen)).toEqual(new Set(ids));
    expect(seen[0]).toBe(ids[6]);
    expect(new Set(seen.slice(1, 3))).toEqual(new Set([ids[4], ids[5]]));
    expect(seen[3]).toBe(ids[3]);
    const audit = await arrange.auditRows(w.t.id, "messages.read_content");
    expect(audit.map((a) => a.details.count)).toEqual([3, 3, 1]);
  });

  test("another tenant's conversation, an unknown id or a malformed id → 404 and no audit row", async ({ arrange, api, A, B }) => {
    const tk = A.t.users.OWNER.token;
    const before = (await arrange.auditRows(A.t.id, "messages.read_content")).length;
    await expectError(await api("GET", `/conversations/${B.conversationId}/messages`, tk, A.t.id), 404, "Not found");
    await expectError(await api("GET", `/conversations/${crypto.randomUUID()}/messages`, tk, A.t.id), 404, "Not found");
    await expectError(await api("GET", "/conversations/123/messages", tk, A.t.id), 404, "Not found");
    expect((await arrange.auditRows(A.t.id, "messages.read_content")).length).toBe(before);
    expect((await arrange.auditRows(B.t.id, "messages.read_content")).length).toBe(0);
  });
});

describe("400s name the failing field, never its value", () => {
  test("a malformed cursor → issues [{ in: query, path: cursor }], on every listing", async ({ api, A }) => {
    const tk = A.t.users.OWNER.token;
    for (const path of ["/conversations", `/conversations/${A.conversationId}/messages`, "/customers", "/orders"]) {
      for (const cursor of ["", "garbage-cursor-value", "!!", encodeURIComponent(btoa(JSON.stringify(["not a time", crypto.randomUUID()])))]) {
        const body = await expectError(await api("GET", `${path}?cursor=${cursor}`, tk, A.t.id), 400, "Invalid request", [
          { in: "query", path: "cursor" },
        ]);
        expect(body.issues!.map((i) => i.path), `${path} ${cursor}`).toEqual(["cursor"]);
        if (cursor) expect(JSON.stringify(body), path).not.toContain(cursor);
      }
    }
  });

  test("a cursor with a null timestamp is a conversations cursor only", async ({ api, A }) => {
    const tk = A.t.users.OWNER.token;
    const nullTs = btoa(JSON.stringify([null, crypto.randomUUID()])).replace(/=+$/, "");
    expect((await api("GET", `/conversations?cursor=${nullTs}`, tk, A.t.id)).status).toBe(200);
    await expectError(await api("GET", `/customers?cursor=${nullTs}`, tk, A.t.id), 400, "Invalid request", [{ in: "query", path: "cursor" }]);
  });

  test("limit and status name themselves too", async ({ api, A }) => {
    const tk = A.t.users.OWNER.token;
    await expectError(await api("GET", "/conversations?limit=0", tk, A.t.id), 400, "Invalid request", [{ in: "query", path: "limit", code: "too_small" }]);
    await expectError(await api("GET", "/conversations?status=archived", tk, A.t.id), 400, "Invalid request", [{ in: "query", path: "status" }]);
  });
});
