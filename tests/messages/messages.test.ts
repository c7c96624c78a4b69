// POST / (send), its rate limit, and DELETE /{messageId} (functions/messages/routes/messages.ts).
import { describe, expect } from "vitest";
import type postgres from "postgres";
import { createLogger } from "../../shared/log/index.ts";
import { maskedPreview, openMessageContent, openPreview, PREVIEW_MAX_CHARS, sealPreview, type SealedColumns } from "../../shared/messaging/index.ts";
import type { DistributorKeys } from "../../shared/tenancy/index.ts";
import { newUser } from "../support/harness.ts";
import { graphError, graphOk } from "../support/fake-graph.ts";
import { BASE, sleep, test, type Api, type World } from "../support/messages.ts";
import { expectError } from "../support/security.ts";

/** A stored message preview, opened: it is sealed at rest, bound to the message. */
async function readPreview(arrange: { keysOf: (t: { id: string }) => Promise<DistributorKeys> }, w: World, messageId: string, stored: string): Promise<string> {
  expect(stored.startsWith("enc:v1:")).toBe(true);
  return (await openPreview(await arrange.keysOf(w.t), messageId, stored))!;
}

/** A conversation's preview as GET /conversations lists it. */
async function listedPreview(api: Api, w: World, conversationId: string): Promise<string | null | undefined> {
  const body = await (await api("GET", "/conversations?limit=100", w.t.users.OWNER.token, w.t.id)).json();
  return body.conversations.find((c: { id: string }) => c.id === conversationId)?.preview;
}

describe("POST / (send)", () => {
  test("stores a web message sealed with a masked preview, bumps the conversation and audits", async ({ arrange, api, sql, graph }) => {
    const w = await arrange.world();
    const u = w.t.users.MANAGER;
    const res = await api("POST", "", u.token, w.t.id, {
      body: { conversation_id: w.webConversationId, content: "  Write to jane.doe@example.org please  " },
    });
    expect(res.status).toBe(201);
    const body = await res.json();
    expect(body).toEqual({ id: expect.any(String), status: "sent", external_id: null });
    expect(res.headers.get("RateLimit-Limit")).toBe("1000");
    expect(graph.requests).toHaveLength(0);
    const [m] = await sql`select * from public.messages where id = ${body.id}`;
    expect(m).toMatchObject({
      distributor_id: w.t.id, conversation_id: w.webConversationId, channel: "web", direction: "outbound", message_type: "text",
      status: "sent", sent_by: u.id, has_pii: true, deleted_at: null, external_id: null,
    });
    expect(await readPreview(arrange, w, m.id, m.preview)).toBe("Write to [EMAIL_1] please");
    expect(JSON.stringify(m)).not.toContain("jane.doe");
    expect(JSON.stringify(m)).not.toContain("Write to");
    expect(await openMessageContent(await arrange.keysOf(w.t), m.id, m as unknown as SealedColumns)).toEqual({ text: "Write to jane.doe@example.org please" });
    const [conv] = await sql`select preview, last_message_at from public.conversations where id = ${w.webConversationId}`;
    expect(conv.preview).toBeNull(); // nothing sealed is copied between rows: the listing reads the latest message's
    expect(await listedPreview(api, w, w.webConversationId)).toBe("Write to [EMAIL_1] please");
    expect(conv.last_message_at.getTime()).toBeGreaterThan(Date.now() - 60_000);
    const audit = await arrange.auditRows(w.t.id, "messages.send");
    expect(audit).toEqual([expect.objectContaining({
      table_name: "messages", record_id: body.id, user_id: u.id,
      details: { message_type: "text", attachments: 0, conversation_id: w.webConversationId },
    })]);
  });

  test("the preview is built like the webhook's: one line, at most PREVIEW_MAX_CHARS code points, no split surrogate pair", async ({ arrange, api, sql }) => {
    const w = await arrange.world();
    const content = `Line one\n\n  line two ${"😀".repeat(200)}`;
    const res = await api("POST", "", w.t.users.MANAGER.token, w.t.id, { body: { conversation_id: w.webConversationId, content } });
    expect(res.status).toBe(201);
    const { id } = await res.json();
    const [m] = await sql`select preview from public.messages where id = ${id}`;
    const preview = await readPreview(arrange, w, id, m.preview);
    expect(preview).toBe(await maskedPreview(content, "text"));
    expect(Array.from(preview)).toHaveLength(PREVIEW_MAX_CHARS);
    expect(preview.startsWith("Line one line two 😀")).toBe(true);
    expect(preview.endsWith("😀…")).toBe(true);
    expect(preview).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
  });

  test("sends through the WhatsApp Cloud API: 429 with Retry-After 0, then success → wamid stored, status sent", async ({ arrange, api, sql, graph }) => {
    const w = await arrange.world();
    graph.script(graphError(429, 130429, "Rate limit hit", { "Retry-After": "0" }), graphOk("wamid.HBgLNDQ3NzAwOTAwMTIzFQIAERgSQUJD"));
    const res = await api("POST", "", w.t.users.OPERATOR.token, w.t.id, {
      body: { conversation_id: w.conversationId, content: "Your order is on its way", message_type: "TEXT" },
    });
    expect(res.status).toBe(201);
    const body = await res.json();
    expect(body).toEqual({ id: expect.any(String), status: "sent", external_id: "wamid.HBgLNDQ3NzAwOTAwMTIzFQIAERgSQUJD" });
    expect(graph.requests).toHaveLength(2);
    for (const r of graph.requests) {
      expect(r.path).toBe(`/v21.0/${w.account.phoneNumberId}/messages`);
      expect(r.authorization).toBe(`Bearer ${w.account.token}`);
      expect(r.body).toEqual({
        messaging_product: "whatsapp", recipient_type: "individual", to: w.waId, type: "text",
        text: { preview_url: false, body: "Your order is on its way" },
      });
    }
    const [m] = await sql`select status, external_id, error_code, channel from public.messages where id = ${body.id}`;
    expect(m).toEqual({ status: "sent", external_id: "wamid.HBgLNDQ3NzAwOTAwMTIzFQIAERgSQUJD", error_code: null, channel: "whatsapp" });
  });

  test("sends attachments as links after the text, stored in the sealed content", async ({ arrange, api, sql, graph }) => {
    const w = await arrange.world();
    const res = await api("POST", "", w.t.users.OWNER.token, w.t.id, {
      body: {
        conversation_id: w.conversationId, content: "Here is the catalogue", message_type: "IMAGE",
        attachments: ["https://cdn.example.com/a.jpg", "http://cdn.example.com/b.pdf"],
      },
    });
    expect(res.status).toBe(201);
    const { id } = await res.json();
    expect(graph.requests[0].body).toMatchObject({
      type: "text", text: { preview_url: true, body: "Here is the catalogue\n\nhttps://cdn.example.com/a.jpg\nhttp://cdn.example.com/b.pdf" },
    });
    const [m] = await sql`select * from public.messages where id = ${id}`;
    expect(m.message_type).toBe("image");
    expect(await openMessageContent(await arrange.keysOf(w.t), id, m as unknown as SealedColumns)).toEqual({
      text: "Here is the catalogue", attachments: ["https://cdn.example.com/a.jpg", "http://cdn.example.com/b.pdf"],
    });
  });

  test("Graph failing (500s) → 502 generic, message failed with Meta's error code and title", async ({ arrange, api, sql, graph }) => {
    const w = await arrange.world();
    graph.setDefault(graphError(500, 131000, "Something went wrong"));
    const res = await api("POST", "", w.t.users.OWNER.token, w.t.id, { body: { conversation_id: w.conversationId, content: "hello?" } });
    await expectError(res, 502, "Upstream service error");
    expect(graph.requests).toHaveLength(3);
    const rows = await sql`select status, error_code, error_title, external_id from public.messages
                           where conversation_id = ${w.conversationId} and direction = 'outbound'`;
    expect(rows).toEqual([{ status: "failed", error_code: "131000", error_title: "Something went wrong", external_id: null }]);
  });

  test("a Graph 4xx is not retried; malformed JSON on 200 fails the message", async ({ arrange, api, sql, graph }) => {
    const w = await arrange.world();
    graph.script(graphError(400, 131030, "Recipient phone number not in allowed list"));
    await expectError(await api("POST", "", w.t.users.OWNER.token, w.t.id, { body: { conversation_id: w.conversationId, content: "a" } }), 502, "Upstream service error");
    expect(graph.requests).toHaveLength(1);
    graph.script({ status: 200, body: "{oops" });
    await expectError(await api("POST", "", w.t.users.OWNER.token, w.t.id, { body: { conversation_id: w.conversationId, content: "b" } }), 502, "Upstream service error");
    const rows = await sql`select error_code from public.messages where conversation_id = ${w.conversationId} and direction = 'outbound' order by created_at`;
    expect(rows.map((r) => r.error_code).sort()).toEqual(["131030", "invalid_response"]);
  });

  test("a customer without a WhatsApp id → 502 and failed, without calling Graph", async ({ arrange, api, sql, graph }) => {
    const w = await arrange.world();
    const cu = await arrange.addCustomer(w.t, { name: "No Number" });
    const conv = await arrange.addConversation(w.t, cu, { accountId: w.account.id });
    await expectError(await api("POST", "", w.t.users.OWNER.token, w.t.id, { body: { conversation_id: conv, content: "hi" } }), 502, "Upstream service error");
    expect(graph.requests).toHaveLength(0);
    const [m] = await sql`select status, error_code from public.messages where conversation_id = ${conv}`;
    expect(m).toEqual({ status: "failed", error_code: "no_recipient" });
  });

  test("validation: 400 with nothing stored and nothing sent", async ({ arrange, api, app, sql, graph }) => {
    const w = await arrange.world();
    const tk = w.t.users.OPERATOR.token;
    const conv = w.conversationId;
    const bad: [string, unknown][] = [
      ["empty content", { conversation_id: conv, content: "" }],
      ["whitespace content", { conversation_id: conv, content: " \n\t " }],
      ["10,001 characters", { conversation_id: conv, content: "x".repeat(10_001) }],
      ["11 attachments", { conversation_id: conv, content: "x", attachments: Array.from({ length: 11 }, (_, i) => `https://e.com/${i}`) }],
      ["ftp:// attachment", { conversation_id: conv, content: "x", attachments: ["ftp://files.example.com/a"] }],
      ["javascript: attachment", { conversation_id: conv, content: "x", attachments: ["javascript:alert(1)"] }],
      ["bad message_type", { conversation_id: conv, content: "x", message_type: "VIDEO" }],
      ["mixed-case message_type", { conversation_id: conv, content: "x", message_type: "Text" }],
      ["missing conversation_id", { content: "x" }],
      ["non-uuid conversation_id", { conversation_id: "42", content: "x" }],
      ["content not a string", { conversation_id: conv, content: 5 }],
      ["array body", [1, 2]],
      ["not JSON", "{nope"],
      ["WhatsApp body over 4,096 characters", { conversation_id: conv, content: "y".repeat(4_097) }],
    ];
    for (const [what, body] of bad) {
      const res = await api("POST", "", tk, w.t.id, { body });
      expect(res.status, what).toBe(400);
      expect((await res.json()).error, what).toBe("Invalid request");
    }
    const res = await app.request(BASE, {
      method: "POST", headers: { authorization: `Bearer ${tk}`, "x-distributor-id": w.t.id, "content-type": "text/plain" }, body: "hi",
    });
    expect(res.status).toBe(400);
    expect(await arrange.messageCount(conv)).toBe(1); // the world's one inbound message
    expect(graph.requests).toHaveLength(0);
    expect(await arrange.auditRows(w.t.id, "messages.send")).toEqual([]);
    // the boundaries themselves are accepted (a web conversation carries 10,000 characters)
    expect((await api("POST", "", tk, w.t.id, { body: { conversation_id: w.webConversationId, content: "z".repeat(10_000) } })).status).toBe(201);
    expect((await api("POST", "", tk, w.t.id, {
      body: { conversation_id: w.webConversationId, content: "ten", attachments: Array.from({ length: 10 }, (_, i) => `https://e.com/${i}`) },
    })).status).toBe(201);
    // Lower case, as responses list types, and the original design's upper case.
    for (const t of ["TEXT", "IMAGE", "AUDIO", "FILE", "ORDER_CONTEXT", "text", "image", "audio", "file", "order_context"]) {
      const r = await api("POST", "", tk, w.t.id, { body: { conversation_id: w.webConversationId, content: t, message_type: t } });
      expect(r.status, t).toBe(201);
      const [m] = await sql`select message_type from public.messages where id = ${(await r.json()).id}`;
      expect(m.message_type).toBe(t.toLowerCase());
    }
  });

  test("never logs message content or tokens", async ({ arrange, api, graph, otherApp }) => {
    const lines: string[] = [];
    const logged = await otherApp({ LOG_LEVEL: "debug" }, { logger: createLogger("debug", (l) => lines.push(l)) });
    const w = await arrange.world();
    graph.setDefault(graphError(500, 1, "boom"));
    const content = "canary-content-7f3a call me at +44 7700 900999";
    await api("POST", "", w.t.users.OWNER.token, w.t.id, { app: logged, body: { conversation_id: w.conversationId, content } });
    graph.setDefault(null);
    await api("POST", "", w.t.users.OWNER.token, w.t.id, { app: logged, body: { conversation_id: w.conversationId, content } });
    await api("GET", `/conversations/${w.conversationId}/messages`, w.t.users.OWNER.token, w.t.id, { app: logged });
    const all = lines.join("\n");
    expect(all).toContain("messages.send_failed");
    expect(all).toContain("messages.sent");
    expect(all).not.toContain("canary-content");
    expect(all).not.toContain("900999");
    expect(all).not.toContain(w.account.token);
    expect(all).not.toContain(w.waId);
  });
});

describe("POST / rate limit (per distributor, in Postgres)", () => {
  /** Fixed one-minute windows: start a burst well inside one. */
  async function awayFromWindowEdge(sql: postgres.Sql, seconds: number) {
    const [{ s }] = await sql`select extract(epoch from clock_timestamp())::float8 as s`;
    const left = 60 - (s % 60);
    if (left < seconds) await sleep((left + 0.3) * 1000);
  }

  test("a lower configured limit: the next request gets 429 with Retry-After, stores nothing; other distributors unaffected", async ({ arrange, api, otherApp, sql }) => {
    const limited = await otherApp({ MESSAGES_RATE_LIMIT_PER_MINUTE: "3" });
    const [w, other] = await Promise.all([arrange.world(), arrange.world()]);
    await awayFromWindowEdge(sql, 10);
    const send = (x: World) => api("POST", "", x.t.users.OPERATOR.token, x.t.id, { app: limited, body: { conversation_id: x.webConversationId, content: "hi" } });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await send(w)).status);
    expect(statuses).toEqual([201, 201, 201]);
    const res = await send(w);
    await expectError(res, 429, "Too many requests");
    expect(Number(res.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
    expect(res.headers.get("RateLimit-Limit")).toBe("3");
    expect(res.headers.get("RateLimit-Remaining")).toBe("0");
    expect(await arrange.messageCount(w.webConversationId)).toBe(3);
    expect((await send(other)).status).toBe(201);
  });

  test("members' failing sends (400, 404) count too, before any audit; the next is 429", async ({ arrange, api, otherApp, sql }) => {
    const limited = await otherApp({ MESSAGES_RATE_LIMIT_PER_MINUTE: "3" });
    const w = await arrange.world();
    await awayFromWindowEdge(sql, 10);
    const tk = w.t.users.OPERATOR.token;
    const statuses = [
      (await api("POST", "", tk, w.t.id, { app: limited, body: { conversation_id: w.webConversationId, content: "" } })).status,
      (await api("POST", "", tk, w.t.id, { app: limited, body: "{not json" })).status,
      (await api("POST", "", tk, w.t.id, { app: limited, body: { conversation_id: crypto.randomUUID(), content: "to nowhere" } })).status,
      (await api("POST", "", tk, w.t.id, { app: limited, body: { conversation_id: w.webConversationId, content: "ok?" } })).status,
    ];
    expect(statuses).toEqual([400, 400, 404, 429]);
    expect(await arrange.auditRows(w.t.id, "messages.send")).toEqual([]);
    expect(await arrange.messageCount(w.webConversationId)).toBe(0);
  });

  test("a stranger's requests (404) do not spend a distributor's quota", async ({ arrange, api, sql, otherApp }) => {
    const limited = await otherApp({ MESSAGES_RATE_LIMIT_PER_MINUTE: "2" });
    const w = await arrange.world();
    const stranger = await newUser(sql);
    await awayFromWindowEdge(sql, 10);
    for (let i = 0; i < 5; i++) {
      const res = await api("POST", "", stranger.token, w.t.id, { app: limited, body: { conversation_id: w.webConversationId, content: "spam" } });
      expect(res.status).toBe(404);
    }
    const ok = [];
    for (let i = 0; i < 2; i++) {
      ok.push((await api("POST", "", w.t.users.OPERATOR.token, w.t.id, { app: limited, body: { conversation_id: w.webConversationId, content: `m${i}` } })).status);
    }
    expect(ok).toEqual([201, 201]);
  });

  test("the default is 100 per minute: the 101st is refused", async ({ arrange, api, otherApp, sql }) => {
    const defaults = await otherApp({});
    const w = await arrange.world();
    await awayFromWindowEdge(sql, 25);
    for (let i = 1; i <= 100; i++) {
      const res = await api("POST", "", w.t.users.OPERATOR.token, w.t.id, { app: defaults, body: { conversation_id: w.webConversationId, content: `n${i}` } });
      expect(res.status, `request ${i}`).toBe(201);
      if (i === 100) {
        expect(res.headers.get("RateLimit-Limit")).toBe("100");
        expect(res.headers.get("RateLimit-Remaining")).toBe("0");
      }
    }
    const res = await api("POST", "", w.t.users.OPERATOR.token, w.t.id, { app: defaults, body: { conversation_id: w.webConversationId, content: "one too many" } });
    await expectError(res, 429, "Too many requests");
    expect(await arrange.messageCount(w.webConversationId)).toBe(100);
  }, 60_000);
});

describe("DELETE /:messageId", () => {
  test("soft-deletes, audits, hides it from reads, moves the preview back, and a second delete is 404", async ({ arrange, api, sql }) => {
    const w = await arrange.world();
    const conv = await arrange.addConversation(w.t, w.customerId, { channel: "sms" });
    const older = await arrange.addMessage(w.t, conv, { content: { text: "earlier one" }, createdAt: "2026-05-01T00:00:00Z" });
    const latest = await arrange.addMessage(w.t, conv, { content: { text: "latest" }, createdAt: "2026-05-02T00:00:00Z" });
    const keys = await arrange.keysOf(w.t);
    for (const [id, p] of [[older, "earlier one"], [latest, "latest"]]) {
      await sql`update public.messages set preview = ${await sealPreview(keys, id, p)} where id = ${id}`;
    }
    expect(await listedPreview(api, w, conv)).toBe("latest");
    const u = w.t.users.ADMIN;
    const res = await api("DELETE", `/${latest}`, u.token, w.t.id);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true });
    const [m] = await sql`select deleted_at from public.messages where id = ${latest}`;
    expect(m.deleted_at).toBeInstanceOf(Date);
    expect(await listedPreview(api, w, conv)).toBe("earlier one");
    const list = await (await api("GET", `/conversations/${conv}/messages`, u.token, w.t.id)).json();
    expect(list.messages.map((x: { id: string }) => x.id)).toEqual([older]);
    expect(await arrange.auditRows(w.t.id, "messages.delete")).toEqual([expect.objectContaining({
      table_name: "messages", record_id: latest, user_id: u.id, details: { conversation_id: conv },
    })]);
    await expectError(await api("DELETE", `/${latest}`, u.token, w.t.id), 404, "Not found");
    await expectError(await api("DELETE", `/${crypto.randomUUID()}`, u.token, w.t.id), 404, "Not found");
  });

  test("MANAGER and OPERATOR cannot delete (403) and the message stays", async ({ arrange, api, sql }) => {
    const w = await arrange.world();
    for (const role of ["MANAGER", "OPERATOR"] as const) {
      await expectError(await api("DELETE", `/${w.messageId}`, w.t.users[role].token, w.t.id), 403, "Forbidden");
    }
    const [m] = await sql`select deleted_at from public.messages where id = ${w.messageId}`;
    expect(m.deleted_at).toBeNull();
    expect(await arrange.auditRows(w.t.id, "messages.delete")).toEqual([]);
  });
});

describe("400s name the failing field, never its value", () => {
  test("empty content → issues [{ in: body, path: content, code: too_small }]", async ({ api, A }) => {
    const body = await expectError(
      await api("POST", "", A.t.users.OPERATOR.token, A.t.id, { body: { conversation_id: A.webConversationId, content: "" } }),
      400, "Invalid request", [{ in: "body", path: "content", code: "too_small" }],
    );
    expect(body.issues).toEqual([{ in: "body", path: "content", code: "too_small" }]);
  });

  test("a long value, a bad attachment, a bad type: paths and codes only", async ({ api, A }) => {
    const canary = `canary-${"v".repeat(10_001)}`;
    const res = await api("POST", "", A.t.users.OPERATOR.token, A.t.id, {
      body: { conversation_id: "not-a-uuid-canary", content: canary, attachments: ["javascript:canary()"], message_type: "CANARY" },
    });
    const body = await expectError(res, 400, "Invalid request");
    expect(body.issues!.map((i) => i.path).sort()).toEqual(["attachments.0", "content", "conversation_id", "message_type"]);
    expect(body.issues!.find((i) => i.path === "content")?.code).toBe("too_big");
    expect(JSON.stringify(body)).not.toMatch(/canary/i);
  });

  test("a WhatsApp text body over 4,096 characters names content (too_big)", async ({ api, A }) => {
    await expectError(
      await api("POST", "", A.t.users.OPERATOR.token, A.t.id, { body: { conversation_id: A.conversationId, content: "y".repeat(4_097) } }),
      400, "Invalid request", [{ in: "body", path: "content", code: "too_big" }],
    );
  });

  test("malformed JSON names the body; the log names the field without the value", async ({ api, A, otherApp }) => {
    const lines: string[] = [];
    const logged = await otherApp({ LOG_LEVEL: "debug" }, { logger: createLogger("debug", (l) => lines.push(l)) });
    await expectError(await api("POST", "", A.t.users.OPERATOR.token, A.t.id, { body: "{nope" }), 400, "Invalid request", [
      { in: "body", path: "", code: "invalid_json" },
    ]);
    await api("POST", "", A.t.users.OPERATOR.token, A.t.id, { app: logged, body: { conversation_id: A.webConversationId, content: "", canary: 1 } });
    const failed = lines.find((l) => l.includes("request.failed"));
    expect(failed).toContain("body:content:too_small");
  });
});
