import { describe, expect } from "vitest";
import type postgres from "postgres";
import { createApp } from "../functions/webhook-whatsapp/app.ts";
import {
  openCustomerContact, openMessageContent, openPreview, phoneLookupHash, sealAccessToken,
} from "../shared/messaging/index.ts";
import type { Deps } from "../shared/runtime/deps.ts";
import { createDistributor } from "../shared/tenancy/index.ts";
import { test as fixtures } from "./support/fixtures.ts";
import { newUser, TEST_WHATSAPP_APP_SECRET, TEST_WHATSAPP_VERIFY_TOKEN, testDeps } from "./support/harness.ts";
import {
  messagesPayload, msg, payload, phoneNumberId, sign, signedHeaders, status, statusesPayload, ts, waId, wamid,
  type MetaMessage,
} from "./support/meta.ts";
import { expectError } from "./support/security.ts";

const BASE = "http://localhost/functions/v1/webhook-whatsapp";
type App = ReturnType<typeof createApp>;

interface Connected { distributorId: string; accountId: string; phoneId: string }

async function expectOk(res: Response) {
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ ok: true });
}

// deno-lint-ignore no-explicit-any
type Row = Record<string, any>;
type MessageRow = Row & { id: string; content_encrypted: string; content_iv: string; key_version: number };
type CustomerRow = Row & { id: string; contact_encrypted: string | null; contact_iv: string | null; key_version: number | null };

/** The file's helpers, over its deps, superuser connection and app. */
function helpers(deps: Deps, sql: postgres.Sql, app: App) {
  /** A fresh distributor with one connected WhatsApp number (arranged as the service). */
  async function connectedDistributor(): Promise<Connected> {
    const owner = await newUser(sql);
    const d = await deps.db.withService((tx) => createDistributor(tx, deps.keyring, { name: "Webhook Test Co", ownerId: owner.id }));
    const keys = await deps.tenantKeys.get(d.id);
    const accountId = crypto.randomUUID();
    const phoneId = phoneNumberId();
    const tok = await sealAccessToken(keys, accountId, "EAAG-test-token");
    await sql`insert into public.whatsapp_accounts (id, distributor_id, phone_number_id, display_phone_number, access_token_encrypted, access_token_iv, key_version)
              values (${accountId}, ${d.id}, ${phoneId}, '+1 555 000 1111', ${tok.encryptedValue}, ${tok.iv}, ${tok.keyVersion})`;
    return { distributorId: d.id, accountId, phoneId };
  }

  const post = (body: string, headers: Record<string, string>) =>
    app.request(BASE, { method: "POST", headers, body });
  const postSigned = (obj: unknown, secret = TEST_WHATSAPP_APP_SECRET) => {
    const body = typeof obj === "string" ? obj : JSON.stringify(obj);
    return post(body, signedHeaders(body, secret));
  };

  /** Stored messages; `preview` opened (it is sealed at rest, bound to the message), `preview_stored` as stored. */
  async function messagesByExternalId(ids: string[]) {
    const rows = await sql<MessageRow[]>`select * from public.messages where external_id = any(${ids}) order by external_id`;
    for (const r of rows) {
      r.preview_stored = r.preview;
      if (r.preview !== null) {
        expect(r.preview.startsWith("enc:v1:")).toBe(true);
        r.preview = await openPreview(await deps.tenantKeys.get(r.distributor_id), r.id, r.preview);
      }
    }
    return rows;
  }

  /** A conversation's preview as GET /conversations reads it: its latest remaining message's, opened. */
  async function conversationPreview(conversationId: string): Promise<string | null> {
    const [m] = await sql`select id, distributor_id, preview from public.messages
                          where conversation_id = ${conversationId} and deleted_at is null
                          order by coalesce(external_timestamp, created_at) desc, id desc limit 1`;
    return m ? await openPreview(await deps.tenantKeys.get(m.distributor_id), m.id, m.preview) : null;
  }

  /** Rows in every table the webhook writes, for these external ids / this distributor. */
  async function storedCounts(distributorId: string, ids: string[]) {
    const [r] = await sql`
      select (select count(*) from public.messages where external_id = any(${ids}))::int as messages,
             (select count(*) from public.pii_detection_results p join public.messages m on m.id = p.message_id
               where m.external_id = any(${ids}))::int as pii,
             (select count(*) from public.event_outbox where payload->>'external_id' = any(${ids}))::int as outbox,
             (select count(*) from public.customers where distributor_id = ${distributorId})::int as customers,
             (select count(*) from public.conversations where distributor_id = ${distributorId})::int as conversations`;
    return r as { messages: number; pii: number; outbox: number; customers: number; conversations: number };
  }

  async function insertOutbound(t: Connected, externalId: string, st = "sent") {
    const [cust] = await sql`insert into public.customers (distributor_id, wa_id_hash) values (${t.distributorId}, ${crypto.randomUUID()}) returning id`;
    const [conv] = await sql`insert into public.conversations (distributor_id, customer_id, whatsapp_account_id)
                             values (${t.distributorId}, ${cust.id}, ${t.accountId}) returning id`;
    const [m] = await sql`insert into public.messages (distributor_id, conversation_id, channel, external_id, direction, message_type, status)
                          values (${t.distributorId}, ${conv.id}, 'whatsapp', ${externalId}, 'outbound', 'text', ${st}) returning id`;
    return m.id as string;
  }

  const get = (q: string) => app.request(`${BASE}?${q}`);
  const statusOf = async (id: string) => (await sql`select status, error_code, error_title, status_updated_at from public.messages where id = ${id}`)[0];

  return { connectedDistributor, post, postSigned, messagesByExternalId, conversationPreview, storedCounts, insertOutbound, get, statusOf };
}

const test = fixtures
  .extend("app", { scope: "file" }, async ({ deps }) => createApp(deps))
  .extend("helpers", { scope: "file" }, async ({ deps, sql, app }) => helpers(deps, sql, app))
  .extend("connectedDistributor", { scope: "file" }, async ({ helpers: h }) => h.connectedDistributor)
  .extend("post", { scope: "file" }, async ({ helpers: h }) => h.post)
  .extend("postSigned", { scope: "file" }, async ({ helpers: h }) => h.postSigned)
  .extend("messagesByExternalId", { scope: "file" }, async ({ helpers: h }) => h.messagesByExternalId)
  .extend("conversationPreview", { scope: "file" }, async ({ helpers: h }) => h.conversationPreview)
  .extend("storedCounts", { scope: "file" }, async ({ helpers: h }) => h.storedCounts)
  .extend("insertOutbound", { scope: "file" }, async ({ helpers: h }) => h.insertOutbound)
  /** GET with a query string (the verification handshake). */
  .extend("get", { scope: "file" }, async ({ helpers: h }) => h.get)
  .extend("statusOf", { scope: "file" }, async ({ helpers: h }) => h.statusOf);

describe("GET verification handshake", () => {
  test("echoes the challenge for the right token (200 text/plain)", async ({ get }) => {
    const res = await get(`hub.mode=subscribe&hub.verify_token=${TEST_WHATSAPP_VERIFY_TOKEN}&hub.challenge=1158201444`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(await res.text()).toBe("1158201444");
  });

  test("also answers at the edge runtime's path (/webhook-whatsapp)", async ({ app }) => {
    const res = await app.request(`http://localhost/webhook-whatsapp?hub.mode=subscribe&hub.verify_token=${TEST_WHATSAPP_VERIFY_TOKEN}&hub.challenge=42`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("42");
  });

  test("wrong token → 403", async ({ get }) => {
    await expectError(await get("hub.mode=subscribe&hub.verify_token=verify-token-for-testZ&hub.challenge=1"), 403, "Forbidden");
    await expectError(await get("hub.mode=subscribe&hub.verify_token=verify&hub.challenge=1"), 403, "Forbidden");
    await expectError(await get("hub.mode=subscribe&hub.verify_token=&hub.challenge=1"), 403, "Forbidden");
  });

  test("wrong mode or missing parameters → 403", async ({ get }) => {
    await expectError(await get(`hub.mode=unsubscribe&hub.verify_token=${TEST_WHATSAPP_VERIFY_TOKEN}&hub.challenge=1`), 403, "Forbidden");
    await expectError(await get(`hub.verify_token=${TEST_WHATSAPP_VERIFY_TOKEN}&hub.challenge=1`), 403, "Forbidden");
    await expectError(await get(`hub.mode=subscribe&hub.challenge=1`), 403, "Forbidden");
    await expectError(await get(`hub.mode=subscribe&hub.verify_token=${TEST_WHATSAPP_VERIFY_TOKEN}`), 403, "Forbidden");
    await expectError(await get(""), 403, "Forbidden");
  });

  test("is refused when no verify token is configured", async () => {
    const d = await testDeps({ WHATSAPP_VERIFY_TOKEN: "" });
    try {
      const res = await createApp(d).request(`${BASE}?hub.mode=subscribe&hub.verify_token=&hub.challenge=1`);
      await expectError(res, 403, "Forbidden");
    } finally {
      await d.db.end();
    }
  });
});

describe("POST signature and body checks", () => {
  let t: Connected;
  test.beforeAll(async ({ connectedDistributor }) => {
    t = await connectedDistributor();
  });

  test("a valid signed delivery is stored (message, customer, conversation, outbox)", async ({ sql, deps, postSigned, messagesByExternalId, conversationPreview }) => {
    const from = waId();
    const m = msg.text({ from, body: "Hello, do you have 20 crates of mango juice?" });
    await expectOk(await postSigned(messagesPayload(t.phoneId, [m], { [from]: "Ana Souza" })));
    const [row] = await messagesByExternalId([m.id]);
    expect(row).toMatchObject({
      distributor_id: t.distributorId, channel: "whatsapp", direction: "inbound", message_type: "text", status: "received",
      has_pii: false, preview: "Hello, do you have 20 crates of mango juice?", key_version: 1,
    });
    expect(row.external_timestamp.getTime()).toBe(Number(m.timestamp) * 1000);
    expect(row.content_encrypted).not.toContain("mango");
    expect(row.preview_stored).not.toContain("mango");
    const keys = await deps.tenantKeys.get(t.distributorId);
    expect(await openMessageContent(keys, row.id, row)).toEqual({ text: "Hello, do you have 20 crates of mango juice?" });
    const [conv] = await sql`select * from public.conversations where id = ${row.conversation_id}`;
    expect(conv).toMatchObject({ distributor_id: t.distributorId, channel: "whatsapp", status: "open", whatsapp_account_id: t.accountId, preview: null });
    expect(await conversationPreview(conv.id)).toBe(row.preview);
    const [cust] = await sql<CustomerRow[]>`select * from public.customers where id = ${conv.customer_id}`;
    expect(cust.wa_id_hash).toBe(await phoneLookupHash(keys, from));
    expect(await openCustomerContact(keys, cust.id, cust)).toEqual({ name: "Ana Souza", phone: from, wa_id: from });
    const outbox = await sql`select * from public.event_outbox where payload->>'message_id' = ${row.id}`;
    expect(outbox).toHaveLength(1);
    expect(outbox[0].event_type).toBe("message.received");
  });

  test("bad signature → 401 and nothing stored", async ({ post, messagesByExternalId }) => {
    const m = msg.text({ from: waId(), body: "forged" });
    const body = JSON.stringify(messagesPayload(t.phoneId, [m]));
    await expectError(await post(body, signedHeaders(body, "another-secret")), 401, "Authentication required");
    // a signature over other bytes (body altered after signing)
    await expectError(await post(body.replace("forged", "forgeD"), signedHeaders(body, TEST_WHATSAPP_APP_SECRET)), 401, "Authentication required");
    // malformed header values
    for (const h of ["sha256=", "sha1=" + "0".repeat(40), sign(body, TEST_WHATSAPP_APP_SECRET).slice(7), `${sign(body, TEST_WHATSAPP_APP_SECRET)}00`, "sha256=" + "z".repeat(64)]) {
      await expectError(await post(body, { "content-type": "application/json", "x-hub-signature-256": h }), 401, "Authentication required");
    }
    expect(await messagesByExternalId([m.id])).toHaveLength(0);
  });

  test("missing signature → 401 and nothing stored", async ({ post, messagesByExternalId }) => {
    const m = msg.text({ from: waId(), body: "unsigned" });
    const body = JSON.stringify(messagesPayload(t.phoneId, [m]));
    await expectError(await post(body, { "content-type": "application/json" }), 401, "Authentication required");
    expect(await messagesByExternalId([m.id])).toHaveLength(0);
  });

  test("during rotation a delivery signed with any configured secret is accepted", async ({ messagesByExternalId }) => {
    const d = await testDeps({ WHATSAPP_APP_SECRET: "old-app-secret-1, new-app-secret-2" });
    const rotating = createApp(d);
    try {
      const send = (m: MetaMessage, secret: string) => {
        const body = JSON.stringify(messagesPayload(t.phoneId, [m]));
        return rotating.request(BASE, { method: "POST", headers: signedHeaders(body, secret), body });
      };
      const a = msg.text({ from: waId(), body: "signed with the old secret" });
      const b = msg.text({ from: waId(), body: "signed with the new secret" });
      const c = msg.text({ from: waId(), body: "signed with neither" });
      await expectOk(await send(a, "old-app-secret-1"));
      await expectOk(await send(b, "new-app-secret-2"));
      await expectError(await send(c, TEST_WHATSAPP_APP_SECRET), 401, "Authentication required");
      expect((await messagesByExternalId([a.id, b.id, c.id])).map((r) => r.external_id).sort()).toEqual([a.id, b.id].sort());
    } finally {
      await d.db.end();
    }
  });

  test("a body over 3 MB → 413 (even correctly signed) and nothing stored; just under is accepted", async ({ app, post, messagesByExternalId }) => {
    const m = msg.text({ from: waId(), body: "x".repeat(3 * 1024 * 1024) });
    const big = JSON.stringify(messagesPayload(t.phoneId, [m]));
    expect(big.length).toBeGreaterThan(3 * 1024 * 1024);
    await expectError(await post(big, signedHeaders(big, TEST_WHATSAPP_APP_SECRET)), 413, "Payload too large");
    // without a Content-Length header (streamed body)
    const stream = new Blob([big]).stream();
    const res = await app.request(BASE, { method: "POST", headers: signedHeaders(big, TEST_WHATSAPP_APP_SECRET), body: stream, duplex: "half" } as RequestInit);
    await expectError(res, 413, "Payload too large");
    expect(await messagesByExternalId([m.id])).toHaveLength(0);

    const ok = msg.text({ from: waId(), body: "y".repeat(3 * 1024 * 1024 - 2048) });
    const near = JSON.stringify(messagesPayload(t.phoneId, [ok]));
    expect(near.length).toBeLessThanOrEqual(3 * 1024 * 1024);
    await expectOk(await post(near, signedHeaders(near, TEST_WHATSAPP_APP_SECRET)));
    const [row] = await messagesByExternalId([ok.id]);
    expect(row.preview).toHaveLength(120);
    expect(row.preview.endsWith("…")).toBe(true);
  });

  test("invalid JSON with a valid signature → 400; JSON that is not a webhook payload → 400", async ({ postSigned }) => {
    await expectError(await postSigned('{"object":"whatsapp_business_account","entry":[{'), 400, "Invalid request");
    await expectError(await postSigned(Buffer.from([0xff, 0xfe, 0x7b, 0x7d]).toString("latin1")), 400, "Invalid request");
    await expectError(await postSigned({ hello: "world" }), 400, "Invalid request");
    await expectError(await postSigned({ object: "whatsapp_business_account", entry: "nope" }), 400, "Invalid request");
    await expectError(await postSigned("[]"), 400, "Invalid request");
  });

  test("without a configured app secret every delivery is refused with 500 (Meta retries once it is set)", async ({ messagesByExternalId }) => {
    const d = await testDeps({ WHATSAPP_APP_SECRET: "" });
    try {
      const m = msg.text({ from: waId(), body: "no secret configured" });
      const body = JSON.stringify(messagesPayload(t.phoneId, [m]));
      const res = await createApp(d).request(BASE, { method: "POST", headers: signedHeaders(body, TEST_WHATSAPP_APP_SECRET), body });
      await expectError(res, 500, "Configuration error");
      expect(await messagesByExternalId([m.id])).toHaveLength(0);
    } finally {
      await d.db.end();
    }
  });

  test("a payload for another Meta product is acknowledged and ignored", async ({ postSigned }) => {
    await expectOk(await postSigned({ object: "page", entry: [{ id: "1", changes: [{ field: "feed", value: {} }] }] }));
  });

  test("GET and POST do not share checks: no signature is expected on GET, POST without one is refused", async ({ app }) => {
    const res = await app.request(`${BASE}?hub.mode=subscribe&hub.verify_token=${TEST_WHATSAPP_VERIFY_TOKEN}&hub.challenge=7`, { headers: { "x-hub-signature-256": "sha256=00" } });
    expect(res.status).toBe(200);
  });
});

describe("idempotency", () => {
  test("the same delivery replayed 10 times is stored once", async ({ connectedDistributor, postSigned, storedCounts }) => {
    const t = await connectedDistributor();
    const from = waId();
    const ms = [
      msg.text({ from, body: "first, mail me at replay.person@example.com" }),
      msg.text({ from, body: "second" }),
      msg.media({ from, kind: "image", mime: "image/jpeg", caption: "photo" }),
    ];
    const p = messagesPayload(t.phoneId, ms);
    for (let i = 0; i < 10; i++) await expectOk(await postSigned(p));
    const ids = ms.map((m) => m.id);
    expect(await storedCounts(t.distributorId, ids)).toEqual({ messages: 3, pii: 1, outbox: 3, customers: 1, conversations: 1 });
  });

  test("the same delivery posted 10 times concurrently is stored once", async ({ sql, connectedDistributor, postSigned, storedCounts }) => {
    const t = await connectedDistributor();
    const senders = [waId(), waId(), waId()];
    const ms = Array.from({ length: 30 }, (_, i) =>
      msg.text({ from: senders[i % 3], body: i % 2 ? `order ${i}` : `call me on +1 415 555 ${String(1000 + i)}` }));
    const p = messagesPayload(t.phoneId, ms);
    const results = await Promise.all(Array.from({ length: 10 }, () => postSigned(p)));
    for (const r of results) await expectOk(r);
    const ids = ms.map((m) => m.id);
    const counts = await storedCounts(t.distributorId, ids);
    expect(counts).toMatchObject({ messages: 30, outbox: 30, customers: 3, conversations: 3 });
    expect(counts.pii).toBe((await sql`select count(*)::int as n from public.messages where external_id = any(${ids}) and has_pii`)[0].n);
    expect(counts.pii).toBeGreaterThan(0);
  });

  test("overlapping deliveries posted concurrently (different orders, shared senders) store each message once", async ({ connectedDistributor, postSigned, storedCounts }) => {
    const t = await connectedDistributor();
    const senders = Array.from({ length: 6 }, () => waId());
    const ms = Array.from({ length: 60 }, (_, i) => msg.text({ from: senders[i % 6], body: `message ${i}` }));
    const deliveries = Array.from({ length: 8 }, (_, k) => {
      const subset = ms.filter((_, i) => (i + k) % 3 !== 0);
      return messagesPayload(t.phoneId, k % 2 ? subset.reverse() : subset);
    });
    const results = await Promise.all(deliveries.map((p) => postSigned(p)));
    for (const r of results) await expectOk(r);
    expect(await storedCounts(t.distributorId, ms.map((m) => m.id))).toMatchObject({ messages: 60, outbox: 60, customers: 6, conversations: 6 });
  });

  test("a message repeated inside one delivery is stored once", async ({ connectedDistributor, postSigned, storedCounts }) => {
    const t = await connectedDistributor();
    const m = msg.text({ from: waId(), body: "twice in one payload" });
    await expectOk(await postSigned(payload([[{ phoneNumberId: t.phoneId, messages: [m] }], [{ phoneNumberId: t.phoneId, messages: [m] }]])));
    expect(await storedCounts(t.distributorId, [m.id])).toMatchObject({ messages: 1, outbox: 1, customers: 1 });
  });
});

describe("statuses", () => {
  let t: Connected;
  test.beforeAll(async ({ connectedDistributor }) => {
    t = await connectedDistributor();
  });

  test("only move forward: read then sent stays read; delivered after read stays read", async ({ postSigned, insertOutbound, statusOf }) => {
    const ext = wamid();
    const id = await insertOutbound(t, ext);
    await expectOk(await postSigned(statusesPayload(t.phoneId, [status(ext, "read")])));
    expect((await statusOf(id)).status).toBe("read");
    await expectOk(await postSigned(statusesPayload(t.phoneId, [status(ext, "sent")])));
    expect((await statusOf(id)).status).toBe("read");
    await expectOk(await postSigned(statusesPayload(t.phoneId, [status(ext, "delivered")])));
    expect((await statusOf(id)).status).toBe("read");
  });

  test("move forward step by step, and several statuses in one delivery end at the furthest", async ({ postSigned, insertOutbound, statusOf }) => {
    const a = wamid(), b = wamid();
    const ida = await insertOutbound(t, a);
    const idb = await insertOutbound(t, b);
    await expectOk(await postSigned(statusesPayload(t.phoneId, [status(a, "delivered")])));
    const s1 = await statusOf(ida);
    expect(s1.status).toBe("delivered");
    expect(s1.status_updated_at).not.toBeNull();
    await expectOk(await postSigned(statusesPayload(t.phoneId, [status(b, "read"), status(b, "sent"), status(b, "delivered"), status(a, "read")])));
    expect((await statusOf(ida)).status).toBe("read");
    expect((await statusOf(idb)).status).toBe("read");
  });

  test("failed records Meta's error code and title; a late delivered does not undo it", async ({ postSigned, insertOutbound, statusOf }) => {
    const ext = wamid();
    const id = await insertOutbound(t, ext);
    await expectOk(await postSigned(statusesPayload(t.phoneId, [status(ext, "failed", { error: { code: 131047, title: "Re-engagement message" } })])));
    expect(await statusOf(id)).toMatchObject({ status: "failed", error_code: "131047", error_title: "Re-engagement message" });
    await expectOk(await postSigned(statusesPayload(t.phoneId, [status(ext, "delivered")])));
    expect(await statusOf(id)).toMatchObject({ status: "failed", error_code: "131047" });
  });

  test("concurrent out-of-order deliveries end at the furthest status", async ({ postSigned, insertOutbound, statusOf }) => {
    const ext = wamid();
    const id = await insertOutbound(t, ext);
    const order = ["delivered", "read", "sent", "delivered", "sent", "read", "sent"] as const;
    const results = await Promise.all(order.map((s) => postSigned(statusesPayload(t.phoneId, [status(ext, s)]))));
    for (const r of results) await expectOk(r);
    expect((await statusOf(id)).status).toBe("read");
  });

  test("a status for an unknown message is acknowledged and changes nothing; inbound messages are never touched", async ({ postSigned, messagesByExternalId }) => {
    await expectOk(await postSigned(statusesPayload(t.phoneId, [status(wamid(), "read")])));
    const m = msg.text({ from: waId(), body: "inbound" });
    await expectOk(await postSigned(messagesPayload(t.phoneId, [m])));
    await expectOk(await postSigned(statusesPayload(t.phoneId, [status(m.id, "read")])));
    expect((await messagesByExternalId([m.id]))[0].status).toBe("received");
  });

  test("statuses of another distributor's number do not touch this distributor's messages", async ({ connectedDistributor, postSigned, insertOutbound, statusOf }) => {
    const other = await connectedDistributor();
    const ext = wamid();
    const id = await insertOutbound(t, ext);
    await expectOk(await postSigned(statusesPayload(other.phoneId, [status(ext, "read")])));
    expect((await statusOf(id)).status).toBe("sent");
  });
});

describe("message types", () => {
  test("stores every type with its details sealed; other types as unsupported, never dropped", async ({ deps, connectedDistributor, postSigned, messagesByExternalId }) => {
    const t = await connectedDistributor();
    const from = waId();
    const target = wamid();
    const cases: { m: MetaMessage; type: string; content: Record<string, unknown> }[] = [
      { m: msg.text({ from, body: "plain text" }), type: "text", content: { text: "plain text" } },
      ...(["image", "video", "document", "audio", "sticker"] as const).map((kind) => {
        const m = msg.media({ from, kind, mediaId: `media-${kind}`, mime: `${kind}/x-test`, sha256: `sha-${kind}`,
          ...(kind === "image" || kind === "video" || kind === "document" ? { caption: `a ${kind} caption` } : {}),
          ...(kind === "document" ? { filename: "invoice.pdf" } : {}) });
        const media: Record<string, unknown> = { id: `media-${kind}`, mime_type: `${kind}/x-test`, sha256: `sha-${kind}` };
        if (kind === "document") media.filename = "invoice.pdf";
        const content: Record<string, unknown> = { media };
        if (kind === "image" || kind === "video" || kind === "document") content.caption = `a ${kind} caption`;
        return { m, type: kind, content };
      }),
      {
        m: msg.location({ from, latitude: 38.7223, longitude: -9.1393, name: "Warehouse 4", address: "Rua Augusta 100, Lisboa" }),
        type: "location", content: { location: { latitude: 38.7223, longitude: -9.1393, name: "Warehouse 4", address: "Rua Augusta 100, Lisboa" } },
      },
      {
        m: msg.contacts({ from, contacts: [{ name: { formatted_name: "Bob Stone", first_name: "Bob" }, phones: [{ phone: "+1 415 555 0100", type: "CELL" }] }] }),
        type: "contacts", content: { contacts: [{ name: { formatted_name: "Bob Stone", first_name: "Bob" }, phones: [{ phone: "+1 415 555 0100", type: "CELL" }] }] },
      },
      { m: msg.buttonReply({ from, replyId: "confirm-1", title: "Confirm order" }), type: "interactive", content: { interactive: { type: "button_reply", id: "confirm-1", title: "Confirm order" } } },
      {
        m: msg.listReply({ from, replyId: "sku-9", title: "Mango juice", description: "1 L, box of 12" }),
        type: "interactive", content: { interactive: { type: "list_reply", id: "sku-9", title: "Mango juice", description: "1 L, box of 12" } },
      },
      { m: msg.button({ from, text: "Yes please", payload: "YES" }), type: "button", content: { button: { text: "Yes please", payload: "YES" } } },
      { m: msg.reaction({ from, messageId: target, emoji: "👍" }), type: "reaction", content: { reaction: { message_id: target, emoji: "👍" } } },
      { m: msg.other({ from, type: "order", extra: { order: { catalog_id: "1", product_items: [] } } }), type: "unsupported", content: { unsupported_type: "order" } },
      { m: msg.other({ from, type: "system", extra: { system: { body: "changed number" } } }), type: "unsupported", content: { unsupported_type: "system" } },
      {
        m: msg.other({ from, type: "unsupported", extra: { errors: [{ code: 131051, title: "Message type unknown" }] } }),
        type: "unsupported", content: { unsupported_type: "unsupported" },
      },
    ];
    await expectOk(await postSigned(messagesPayload(t.phoneId, cases.map((c) => c.m))));
    const keys = await deps.tenantKeys.get(t.distributorId);
    const rows = await messagesByExternalId(cases.map((c) => c.m.id));
    expect(rows).toHaveLength(cases.length);
    const byId = new Map(rows.map((r) => [r.external_id, r]));
    for (const c of cases) {
      const row = byId.get(c.m.id)!;
      expect({ id: c.m.id, type: row.message_type }).toEqual({ id: c.m.id, type: c.type });
      expect(await openMessageContent(keys, row.id, row)).toEqual(c.content);
      expect(typeof row.preview).toBe("string");
      expect(row.preview.length).toBeGreaterThan(0);
    }
    expect(byId.get(cases[1].m.id)!.preview).toBe("a image caption");
    expect(byId.get(cases[4].m.id)!.preview).toBe("[audio]");
    // the shared contact card and the address are personal data
    const contactsRow = byId.get(cases.find((c) => c.type === "contacts")!.m.id)!;
    expect(contactsRow.has_pii).toBe(true);
    expect(JSON.stringify(contactsRow)).not.toContain("415 555 0100");
  });
});

describe("batches", () => {
  test("processes every entry, change, message and status of a large delivery", async ({ sql, connectedDistributor, postSigned, storedCounts, insertOutbound }) => {
    const t = await connectedDistributor();
    const second = await connectedDistributor();
    const outbound = wamid();
    const outboundId = await insertOutbound(t, outbound);
    const all: MetaMessage[] = [];
    const entries = Array.from({ length: 4 }, (_, e) =>
      Array.from({ length: 3 }, (_, c) => {
        const senders = [waId(), waId()];
        const messages = Array.from({ length: 25 }, (_, i) => msg.text({ from: senders[i % 2], body: `entry ${e} change ${c} message ${i}: ${"please deliver the usual order ".repeat(5)}` }));
        all.push(...messages);
        return {
          phoneNumberId: e === 3 ? second.phoneId : t.phoneId,
          contacts: senders.map((w) => ({ wa_id: w, name: `Sender ${w.slice(-3)}` })),
          messages,
          ...(e === 0 && c === 2 ? { statuses: [status(outbound, "delivered")] } : {}),
        };
      }));
    const p = payload(entries);
    expect(JSON.stringify(p).length).toBeGreaterThan(64 * 1024); // more than the default body limit
    await expectOk(await postSigned(p));
    const firstIds = all.slice(0, 225).map((m) => m.id);
    const secondIds = all.slice(225).map((m) => m.id);
    expect(await storedCounts(t.distributorId, firstIds)).toMatchObject({ messages: 225, outbox: 225, customers: 19, conversations: 19 }) // 18 senders + the outbound fixture;
    expect(await storedCounts(second.distributorId, secondIds)).toMatchObject({ messages: 75, outbox: 75, customers: 6, conversations: 6 });
    const wrong = await sql`select count(*)::int as n from public.messages where external_id = any(${secondIds}) and distributor_id <> ${second.distributorId}`;
    expect(wrong[0].n).toBe(0);
    expect((await sql`select status from public.messages where id = ${outboundId}`)[0].status).toBe("delivered");
  });

  test("keeps the valid messages of a delivery when some items cannot be stored", async ({ connectedDistributor, postSigned, messagesByExternalId }) => {
    const t = await connectedDistributor();
    const good = msg.text({ from: waId(), body: "good" });
    const p = payload([[{ phoneNumberId: t.phoneId, messages: [{ ...good, id: "" }, { ...good, from: "not-a-number", id: wamid() } as MetaMessage, good] }]]);
    await expectOk(await postSigned(p));
    expect(await messagesByExternalId([good.id])).toHaveLength(1);
  });

  test("NUL and lone surrogates: text is stored with U+FFFD, an unusable id skips only its item, never the batch", async ({ sql, deps, connectedDistributor, postSigned, messagesByExternalId, insertOutbound }) => {
    const t = await connectedDistributor();
    const nulText = msg.text({ from: waId(), body: "before\u0000after" });
    const loneText = msg.text({ from: waId(), body: "half \ud800 pair \udc00 end" });
    const badId = msg.text({ from: waId(), body: "bad id", id: `wamid.\u0000${wamid()}` });
    const loneId = msg.text({ from: waId(), body: "lone id", id: `wamid.\ud800${wamid()}` });
    const good = msg.text({ from: waId(), body: "good" });
    const contact = msg.contacts({ from: waId(), contacts: [{ name: { formatted_name: "Nul\u0000Name" }, phones: [{ phone: "+1 415 555 0100" }] }] });
    const ext = wamid();
    const id = await insertOutbound(t, ext);
    const p = payload([[{
      phoneNumberId: t.phoneId,
      contacts: [{ wa_id: nulText.from, name: "Pro\u0000file" }],
      messages: [nulText, loneText, badId, loneId, good, contact],
      statuses: [status(ext, "failed", { error: { code: 131000, title: "bad\u0000title \udfff" } })],
    }]]);
    await expectOk(await postSigned(p));
    const rows = await messagesByExternalId([nulText.id, loneText.id, good.id, contact.id]);
    expect(rows).toHaveLength(4);
    const keys = await deps.tenantKeys.get(t.distributorId);
    const byId = new Map(rows.map((r) => [r.external_id, r]));
    const text = async (ext: string) => {
      const r = byId.get(ext)!;
      return (await openMessageContent(keys, r.id, { content_encrypted: r.content_encrypted!, content_iv: r.content_iv!, key_version: r.key_version! })).text;
    };
    expect(await text(nulText.id)).toBe("before\uFFFDafter");
    expect(await text(loneText.id)).toBe("half \uFFFD pair \uFFFD end");
    expect(byId.get(nulText.id)!.preview).toBe("before\uFFFDafter");
    // The two items with unusable ids were skipped: 4 inbound messages and the outbound one.
    const [{ n }] = await sql`select count(*)::int as n from public.messages where distributor_id = ${t.distributorId}`;
    expect(n).toBe(5);
    const [st] = await sql`select status, error_title from public.messages where id = ${id}`;
    expect(st).toMatchObject({ status: "failed", error_title: "bad\uFFFDtitle \uFFFD" });
  });

  test("an unknown phone number is acknowledged and nothing is stored", async ({ sql, deps, connectedDistributor, postSigned, messagesByExternalId }) => {
    const t = await connectedDistributor();
    const m = msg.text({ from: waId(), body: "to nobody" });
    const unknownPhone = phoneNumberId();
    await expectOk(await postSigned(messagesPayload(unknownPhone, [m])));
    expect(await messagesByExternalId([m.id])).toHaveLength(0);
    const hash = await phoneLookupHash(await deps.tenantKeys.get(t.distributorId), m.from);
    expect(await sql`select id from public.customers where wa_id_hash = ${hash}`).toHaveLength(0);
    expect((await sql`select count(*)::int as n from public.event_outbox where payload->>'external_id' = ${m.id}`)[0].n).toBe(0);
    // and a mixed delivery stores the known number's part
    const k = msg.text({ from: waId(), body: "to a known number" });
    await expectOk(await postSigned(payload([[{ phoneNumberId: unknownPhone, messages: [m] }, { phoneNumberId: t.phoneId, messages: [k] }]])));
    expect((await messagesByExternalId([m.id, k.id])).map((r) => r.external_id)).toEqual([k.id]);
  });

  test("a number connected after a first unknown delivery is found on redelivery", async ({ sql, connectedDistributor, postSigned, messagesByExternalId }) => {
    const t = await connectedDistributor();
    const late = phoneNumberId();
    const m = msg.text({ from: waId(), body: "early bird" });
    await expectOk(await postSigned(messagesPayload(late, [m])));
    await sql`update public.whatsapp_accounts set phone_number_id = ${late} where id = ${t.accountId}`;
    await expectOk(await postSigned(messagesPayload(late, [m])));
    expect(await messagesByExternalId([m.id])).toHaveLength(1);
  });
});

describe("customers and conversations", () => {
  test("a wa_id seen twice is one customer, its phone never in clear, findable by keyed hash", async ({ sql, deps, connectedDistributor, postSigned, conversationPreview }) => {
    const t = await connectedDistributor();
    const from = waId();
    const first = msg.text({ from, body: "one", timestamp: ts(new Date(Date.now() - 60_000)) });
    const second = msg.text({ from, body: "two" });
    await expectOk(await postSigned(messagesPayload(t.phoneId, [first], { [from]: "Maria Lopes" })));
    await expectOk(await postSigned(messagesPayload(t.phoneId, [second], { [from]: "Maria L." })));
    const customers = await sql<CustomerRow[]>`select * from public.customers where distributor_id = ${t.distributorId}`;
    expect(customers).toHaveLength(1);
    const dump = JSON.stringify(customers[0]);
    expect(dump).not.toContain(from);
    expect(dump).not.toContain("Maria");
    const keys = await deps.tenantKeys.get(t.distributorId);
    const hash = await phoneLookupHash(keys, `+${from}`);
    const found = await sql`select id, phone_hash from public.customers where distributor_id = ${t.distributorId} and wa_id_hash = ${hash}`;
    expect(found).toHaveLength(1);
    expect(found[0].phone_hash).toBe(hash);
    expect(await openCustomerContact(keys, customers[0].id, customers[0])).toEqual({ name: "Maria Lopes", phone: from, wa_id: from });

    const convs = await sql`select * from public.conversations where distributor_id = ${t.distributorId}`;
    expect(convs).toHaveLength(1);
    expect(convs[0].customer_id).toBe(customers[0].id);
    expect(convs[0].preview).toBeNull();
    expect(await conversationPreview(convs[0].id)).toBe("two");
    expect(convs[0].last_message_at.getTime()).toBe(Number(second.timestamp) * 1000);
    // an older message redelivered later does not move the conversation back
    const older = msg.text({ from, body: "zero", timestamp: ts(new Date(Date.now() - 3_600_000)) });
    await expectOk(await postSigned(messagesPayload(t.phoneId, [older])));
    const [after] = await sql`select preview, last_message_at from public.conversations where id = ${convs[0].id}`;
    expect(await conversationPreview(convs[0].id)).toBe("two");
    expect(after.last_message_at.getTime()).toBe(Number(second.timestamp) * 1000);
  });

  test("the same wa_id at two distributors is two customers, with different hashes", async ({ sql, connectedDistributor, postSigned }) => {
    const a = await connectedDistributor();
    const b = await connectedDistributor();
    const from = waId();
    await expectOk(await postSigned(payload([[
      { phoneNumberId: a.phoneId, messages: [msg.text({ from, body: "to a" })] },
      { phoneNumberId: b.phoneId, messages: [msg.text({ from, body: "to b" })] },
    ]])));
    const ca = await sql`select wa_id_hash from public.customers where distributor_id = ${a.distributorId}`;
    const cb = await sql`select wa_id_hash from public.customers where distributor_id = ${b.distributorId}`;
    expect(ca).toHaveLength(1);
    expect(cb).toHaveLength(1);
    expect(ca[0].wa_id_hash).not.toBe(cb[0].wa_id_hash);
  });
});

describe("PII and the outbox", () => {
  test("a message with PII: types and counts only, has_pii, masked preview, content sealed", async ({ sql, deps, connectedDistributor, postSigned, messagesByExternalId }) => {
    const t = await connectedDistributor();
    const from = waId();
    const text = "Please invoice jane.canary@example.org, card 4111 1111 1111 1111, or call +1 415 555 0199";
    const m = msg.text({ from, body: text });
    const clean = msg.text({ from, body: "and 3 boxes of oranges" });
    await expectOk(await postSigned(messagesPayload(t.phoneId, [m, clean])));
    const [row] = await messagesByExternalId([m.id]);
    expect(row.has_pii).toBe(true);
    expect(row.preview).toContain("[EMAIL_1]");
    expect(row.preview).toContain("[CREDIT_CARD_1]");
    expect(row.preview).not.toContain("jane.canary");
    expect(row.preview).not.toContain("4111");
    expect(row.preview_stored).not.toContain("[EMAIL_1]"); // sealed at rest
    expect(row.content_encrypted).not.toContain("jane");
    const keys = await deps.tenantKeys.get(t.distributorId);
    expect(await openMessageContent(keys, row.id, row)).toEqual({ text });

    const pii = await sql`select * from public.pii_detection_results where message_id = ${row.id}`;
    expect(pii).toHaveLength(1);
    expect(pii[0].distributor_id).toBe(t.distributorId);
    expect(pii[0].pii_types).toEqual(expect.arrayContaining(["EMAIL", "CREDIT_CARD", "PHONE"]));
    expect(pii[0].counts).toMatchObject({ EMAIL: 1, CREDIT_CARD: 1, PHONE: 1 });
    const piiDump = JSON.stringify(pii[0]);
    for (const secret of ["jane", "4111", "0199"]) expect(piiDump).not.toContain(secret);

    const [cleanRow] = await messagesByExternalId([clean.id]);
    expect(cleanRow.has_pii).toBe(false);
    expect(await sql`select 1 from public.pii_detection_results where message_id = ${cleanRow.id}`).toHaveLength(0);
  });

  test("one message.received outbox row per new message, ids and counts only", async ({ sql, connectedDistributor, postSigned, messagesByExternalId }) => {
    const t = await connectedDistributor();
    const from = waId();
    const m = msg.text({ from, body: "write to outbox.canary@example.net" });
    const p = messagesPayload(t.phoneId, [m]);
    await expectOk(await postSigned(p));
    await expectOk(await postSigned(p));
    const [row] = await messagesByExternalId([m.id]);
    const rows = await sql`select * from public.event_outbox where distributor_id = ${t.distributorId}`;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ event_type: "message.received", delivered_at: null, attempts: 0 });
    expect(rows[0].payload).toEqual({
      message_id: row.id, conversation_id: row.conversation_id, customer_id: expect.any(String), whatsapp_account_id: t.accountId,
      external_id: m.id, channel: "whatsapp", direction: "inbound", message_type: "text", has_pii: true,
      pii_types: ["EMAIL"], pii_counts: { EMAIL: 1 },
    });
    expect(JSON.stringify(rows[0])).not.toContain("canary");
  });
});

describe("database failure", () => {
  test("fails the whole delivery with 500 and stores nothing; redelivery stores everything once", async ({ sql, connectedDistributor, postSigned, storedCounts, insertOutbound }) => {
    const t = await connectedDistributor();
    const senders = [waId(), waId()];
    const ms = Array.from({ length: 12 }, (_, i) => msg.text({ from: senders[i % 2], body: i % 3 ? `note ${i}` : `mail fail.case${i}@example.com` }));
    const outbound = wamid();
    const outboundId = await insertOutbound(t, outbound);
    const p = payload([[{ phoneNumberId: t.phoneId, contacts: senders.map((w) => ({ wa_id: w, name: "X" })), messages: ms, statuses: [status(outbound, "read")] }]]);
    const ids = ms.map((m) => m.id);
    const fn = `webhook_test_fail_${t.distributorId.replaceAll("-", "")}`;
    // The failure happens inside the transaction, after customers, conversations and messages
    // have been written: the outbox insert raises.
    await sql.unsafe(`create function public.${fn}() returns trigger language plpgsql as $$
      begin raise exception 'injected failure'; end $$`);
    await sql.unsafe(`create trigger ${fn} before insert on public.event_outbox for each row
      when (new.distributor_id = '${t.distributorId}') execute function public.${fn}()`);
    try {
      await expectError(await postSigned(p), 500, "Internal server error");
      expect(await storedCounts(t.distributorId, ids)).toEqual({ messages: 0, pii: 0, outbox: 0, customers: 1, conversations: 1 }); // the outbound fixture's
      expect((await sql`select status from public.messages where id = ${outboundId}`)[0].status).toBe("sent");
    } finally {
      await sql.unsafe(`drop trigger ${fn} on public.event_outbox`);
      await sql.unsafe(`drop function public.${fn}()`);
    }
    await expectOk(await postSigned(p));
    await expectOk(await postSigned(p));
    const counts = await storedCounts(t.distributorId, ids);
    expect(counts).toMatchObject({ messages: 12, outbox: 12, customers: 3, conversations: 3 });
    expect(counts.pii).toBe(4);
    expect((await sql`select status from public.messages where id = ${outboundId}`)[0].status).toBe("read");
  });
});
