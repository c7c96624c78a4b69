// The messages function (Messages page API) through app.request(), against the real database
// and a fake Graph server. Test data is arranged directly in the shared storage formats.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type postgres from "postgres";
import { createApp } from "../functions/messages/app.ts";
import {
  openCustomerContact, openMessageContent, phoneLookupHash, emailLookupHash, sealAccessToken, sealCustomerContact,
  sealMessageContent, type CustomerContact, type MessageContent, type SealedColumns,
} from "../shared/messaging/index.ts";
import { createLogger } from "../shared/log/index.ts";
import type { Deps } from "../shared/runtime/deps.ts";
import { can, openFor, ROLES, sealFor, type Permission, type Role } from "../shared/tenancy/index.ts";
import { adminSql, ALLOWED_ORIGIN, newUser, testDeps } from "./support/harness.ts";
import { authenticationCases } from "./support/security.ts";
import { createTenant, type Tenant } from "./support/tenancy.ts";
import { graphError, graphOk, startFakeGraph, type FakeGraph } from "./support/fake-graph.ts";

const BASE = "http://localhost/functions/v1/messages";
type SealedContact = { contact_encrypted: string | null; contact_iv: string | null; key_version: number | null };
let deps: Deps;
let app: ReturnType<typeof createApp>;
let sql: postgres.Sql;
let graph: FakeGraph;
const extraDeps: Deps[] = [];

beforeAll(async () => {
  graph = await startFakeGraph();
  deps = await testDeps({ GRAPH_API_BASE_URL: graph.url, MESSAGES_RATE_LIMIT_PER_MINUTE: "1000" });
  app = createApp(deps);
  sql = adminSql();
});
afterAll(async () => {
  await Promise.all([deps.db.end(), ...extraDeps.map((d) => d.db.end())]);
  await sql.end();
  await graph.close();
});

/** Another app over the same database, e.g. with other limits. */
async function otherApp(env: Record<string, string>, overrides: Partial<Omit<Deps, "config">> = {}) {
  const d = await testDeps({ GRAPH_API_BASE_URL: graph.url, ...env }, overrides);
  extraDeps.push(d);
  return createApp(d);
}

// Requests ---------------------------------------------------------------------------------

type App = ReturnType<typeof createApp>;
interface Opts { body?: unknown; headers?: Record<string, string>; app?: App }

function api(method: string, path: string, token: string | null, distributor: string | null, o: Opts = {}): Promise<Response> {
  const headers: Record<string, string> = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...o.headers };
  if (distributor !== null) headers["x-distributor-id"] = distributor;
  let body: string | undefined;
  if (o.body !== undefined) {
    headers["content-type"] ??= "application/json";
    body = typeof o.body === "string" ? o.body : JSON.stringify(o.body);
  }
  return Promise.resolve((o.app ?? app).request(`${BASE}${path}`, { method, headers, body }));
}

async function expectError(res: Response, status: number, error: string) {
  expect(res.status).toBe(status);
  const body = await res.json();
  expect(body.error).toBe(error);
  expect(Object.keys(body).sort()).toEqual(["error", "requestId"]);
}

// Fixtures (arranged as the service, in the shared storage formats) --------------------------

const keysOf = (t: { id: string }) => deps.tenantKeys.get(t.id);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let phoneSeq = 0;

async function addCustomer(t: Tenant, contact: CustomerContact = {}, o: { createdAt?: string; tags?: string[] } = {}) {
  const id = crypto.randomUUID();
  const keys = await keysOf(t);
  const sealed = await sealCustomerContact(keys, id, contact);
  const waHash = contact.wa_id ? await phoneLookupHash(keys, contact.wa_id) : null;
  const phoneHash = contact.phone ? await phoneLookupHash(keys, contact.phone) : null;
  await sql`insert into public.customers (id, distributor_id, wa_id_hash, phone_hash, contact_encrypted, contact_iv, key_version, tags, created_at)
            values (${id}, ${t.id}, ${waHash}, ${phoneHash}, ${sealed.contact_encrypted}, ${sealed.contact_iv}, ${sealed.key_version},
                    array(select jsonb_array_elements_text(${sql.json(o.tags ?? [])})), ${o.createdAt ?? new Date().toISOString()}::text::timestamptz)`;
  return id;
}

async function addAccount(t: Tenant, token = `EAAG-token-${crypto.randomUUID()}`) {
  const id = crypto.randomUUID();
  const phoneNumberId = `${Date.now()}${String(++phoneSeq).padStart(4, "0")}`;
  const sealed = await sealAccessToken(await keysOf(t), id, token);
  await sql`insert into public.whatsapp_accounts (id, distributor_id, phone_number_id, display_phone_number, access_token_encrypted, access_token_iv, key_version)
            values (${id}, ${t.id}, ${phoneNumberId}, '+1 555 0100', ${sealed.encryptedValue}, ${sealed.iv}, ${sealed.keyVersion})`;
  return { id, phoneNumberId, token };
}

async function addConversation(t: Tenant, customerId: string, o: {
  channel?: string; status?: string; accountId?: string | null; lastMessageAt?: string | null; preview?: string | null;
} = {}) {
  const id = crypto.randomUUID();
  await sql`insert into public.conversations (id, distributor_id, customer_id, whatsapp_account_id, channel, status, preview, last_message_at)
            values (${id}, ${t.id}, ${customerId}, ${o.accountId ?? null}, ${o.channel ?? "whatsapp"}, ${o.status ?? "open"},
                    ${o.preview ?? null}, ${o.lastMessageAt === undefined ? new Date().toISOString() : o.lastMessageAt}::text::timestamptz)`;
  return id;
}

async function addMessage(t: Tenant, conversationId: string, o: {
  content?: MessageContent; direction?: string; type?: string; status?: string; createdAt?: string; externalId?: string | null;
  preview?: string; channel?: string;
} = {}) {
  const id = crypto.randomUUID();
  const sealed = await sealMessageContent(await keysOf(t), id, o.content ?? { text: "hello" });
  await sql`insert into public.messages (id, distributor_id, conversation_id, channel, external_id, direction, message_type,
              content_encrypted, content_iv, key_version, preview, status, created_at)
            values (${id}, ${t.id}, ${conversationId}, ${o.channel ?? "whatsapp"}, ${o.externalId ?? null}, ${o.direction ?? "inbound"},
                    ${o.type ?? "text"}, ${sealed.content_encrypted}, ${sealed.content_iv}, ${sealed.key_version},
                    ${o.preview ?? "hello"}, ${o.status ?? "received"}, ${o.createdAt ?? new Date().toISOString()}::text::timestamptz)`;
  return id;
}

async function addOrder(t: Tenant, customerId: string, o: { status?: string; notes?: string; createdAt?: string } = {}) {
  const id = crypto.randomUUID();
  const sealed = o.notes ? await sealFor(await keysOf(t), "orders", id, o.notes) : null;
  await sql`insert into public.orders (id, distributor_id, customer_id, status, items, total, notes_encrypted, notes_iv, key_version, created_at)
            values (${id}, ${t.id}, ${customerId}, ${o.status ?? "pending"}, ${sql.json([{ sku: "SKU-1", quantity: 2, unit_price: 1.25 }])},
                    2.50, ${sealed?.encryptedValue ?? null}, ${sealed?.iv ?? null}, ${sealed?.keyVersion ?? null},
                    ${o.createdAt ?? new Date().toISOString()}::text::timestamptz)`;
  return id;
}

/** A distributor with one user per role, a WhatsApp number, a customer, two conversations, a message, an order. */
interface World {
  t: Tenant;
  account: { id: string; phoneNumberId: string; token: string };
  waId: string;
  customerId: string;
  conversationId: string;
  webConversationId: string;
  messageId: string;
  orderId: string;
}

async function world(name = "Acme"): Promise<World> {
  const t = await createTenant(deps, sql, name);
  const account = await addAccount(t);
  const waId = `4477009${String(Math.floor(Math.random() * 1e5)).padStart(5, "0")}`;
  const customerId = await addCustomer(t, { name: "Ada Lovelace", phone: `+${waId}`, wa_id: waId, email: "ada@example.com" });
  const conversationId = await addConversation(t, customerId, { accountId: account.id, preview: "hello" });
  const webConversationId = await addConversation(t, customerId, { channel: "web" });
  const messageId = await addMessage(t, conversationId, { content: { text: "first message" } });
  const orderId = await addOrder(t, customerId);
  return { t, account, waId, customerId, conversationId, webConversationId, messageId, orderId };
}

async function auditRows(distributorId: string, action?: string) {
  return await sql`select action, table_name, record_id, user_id, details, host(ip_address) as ip, user_agent
                   from public.data_access_audit
                   where distributor_id = ${distributorId} ${action ? sql`and action = ${action}` : sql``}
                   order by created_at, id`;
}

async function messageCount(conversationId: string) {
  const [{ n }] = await sql`select count(*)::int as n from public.messages where conversation_id = ${conversationId}`;
  return n as number;
}

// The route table: one entry per route, read by the matrix, tenant and authentication suites.

interface RouteCase {
  name: string;
  method: string;
  permission: Permission;
  ok: number;
  /** Export needs aal2 (REQUIRE_MFA_FOR_ADMIN_ACTIONS); the matrix then uses MFA tokens. */
  mfa?: boolean;
  send: (w: World, token: string | null, distributor: string | null, o?: Opts) => Promise<Response>;
  /** The same route with an invalid request, and what a permitted caller gets for it. */
  invalid: (w: World, token: string, distributor: string) => Promise<Response>;
  invalidStatus: number;
  /** A raw request for the authentication suite. */
  path: (w: World) => string;
  body?: (w: World) => unknown;
}

const ROUTES: RouteCase[] = [
  {
    name: "GET /conversations", method: "GET", permission: "messages.read", ok: 200,
    path: () => "/conversations",
    send: (w, tk, d, o) => api("GET", "/conversations", tk, d, o),
    invalid: (w, tk, d) => api("GET", "/conversations?limit=0", tk, d), invalidStatus: 400,
  },
  {
    name: "GET /conversations/:id/messages", method: "GET", permission: "messages.read", ok: 200,
    path: (w) => `/conversations/${w.conversationId}/messages`,
    send: (w, tk, d, o) => api("GET", `/conversations/${w.conversationId}/messages`, tk, d, o),
    invalid: (w, tk, d) => api("GET", `/conversations/${w.conversationId}/messages?limit=101`, tk, d), invalidStatus: 400,
  },
  {
    name: "POST /", method: "POST", permission: "messages.write", ok: 201,
    path: () => "", body: (w) => ({ conversation_id: w.webConversationId, content: "hi" }),
    send: (w, tk, d, o) => api("POST", "", tk, d, { body: { conversation_id: w.webConversationId, content: "matrix hello" }, ...o }),
    invalid: (w, tk, d) => api("POST", "", tk, d, { body: { conversation_id: w.webConversationId, content: "   " } }), invalidStatus: 400,
  },
  {
    name: "DELETE /:messageId", method: "DELETE", permission: "messages.delete", ok: 200,
    path: (w) => `/${w.messageId}`,
    send: async (w, tk, d, o) => api("DELETE", `/${await addMessage(w.t, w.conversationId)}`, tk, d, o),
    invalid: (w, tk, d) => api("DELETE", "/not-a-uuid", tk, d), invalidStatus: 404,
  },
  {
    name: "GET /customers", method: "GET", permission: "customers.read", ok: 200,
    path: () => "/customers",
    send: (w, tk, d, o) => api("GET", "/customers", tk, d, o),
    invalid: (w, tk, d) => api("GET", "/customers?cursor=!!!", tk, d), invalidStatus: 400,
  },
  {
    name: "GET /customers/:id", method: "GET", permission: "customers.read", ok: 200,
    path: (w) => `/customers/${w.customerId}`,
    send: (w, tk, d, o) => api("GET", `/customers/${w.customerId}`, tk, d, o),
    invalid: (w, tk, d) => api("GET", "/customers/nope", tk, d), invalidStatus: 404,
  },
  {
    name: "PATCH /customers/:id", method: "PATCH", permission: "customers.write", ok: 200,
    path: (w) => `/customers/${w.customerId}`, body: () => ({ tags: ["vip"] }),
    send: (w, tk, d, o) => api("PATCH", `/customers/${w.customerId}`, tk, d, { body: { tags: ["vip"] }, ...o }),
    invalid: (w, tk, d) => api("PATCH", `/customers/${w.customerId}`, tk, d, { body: { email: "not-an-email" } }), invalidStatus: 400,
  },
  {
    name: "GET /customers/export", method: "GET", permission: "customers.export", ok: 200, mfa: true,
    path: () => "/customers/export?format=csv",
    send: (w, tk, d, o) => api("GET", "/customers/export?format=csv", tk, d, o),
    invalid: (w, tk, d) => api("GET", "/customers/export?format=xml", tk, d), invalidStatus: 400,
  },
  {
    name: "GET /orders", method: "GET", permission: "orders.read", ok: 200,
    path: () => "/orders",
    send: (w, tk, d, o) => api("GET", "/orders", tk, d, o),
    invalid: (w, tk, d) => api("GET", "/orders?status=bogus", tk, d), invalidStatus: 400,
  },
  {
    name: "POST /orders", method: "POST", permission: "orders.create", ok: 201,
    path: () => "/orders", body: (w) => ({ customer_id: w.customerId, items: [{ sku: "A", quantity: 1 }] }),
    send: (w, tk, d, o) => api("POST", "/orders", tk, d, { body: { customer_id: w.customerId, items: [{ sku: "A", quantity: 1 }] }, ...o }),
    invalid: (w, tk, d) => api("POST", "/orders", tk, d, { body: { customer_id: w.customerId, items: [] } }), invalidStatus: 400,
  },
  {
    name: "POST /orders/:id/confirm", method: "POST", permission: "orders.confirm", ok: 200,
    path: (w) => `/orders/${w.orderId}/confirm`,
    send: async (w, tk, d, o) => api("POST", `/orders/${await addOrder(w.t, w.customerId)}/confirm`, tk, d, o),
    invalid: (w, tk, d) => api("POST", "/orders/nope/confirm", tk, d), invalidStatus: 404,
  },
];

// Shared worlds for the suites that do not care about exact contents.
let A: World;
let B: World;
beforeAll(async () => {
  [A, B] = await Promise.all([world("Alpha Foods"), world("Beta Drinks")]);
});

const tokenFor = (w: World, role: Role, route: RouteCase) => (route.mfa ? w.t.users[role].mfaToken : w.t.users[role].token);

describe("role × permission matrix (from shared/tenancy)", () => {
  it("covers every permission the routes need", () => {
    expect(new Set(ROUTES.map((r) => r.permission))).toEqual(new Set([
      "messages.read", "messages.write", "messages.delete", "customers.read", "customers.write", "customers.export",
      "orders.read", "orders.create", "orders.confirm",
    ]));
  });

  for (const route of ROUTES) {
    for (const role of ROLES) {
      const allowed = can(role, route.permission);
      it(`${route.name} as ${role} → ${allowed ? route.ok : 403}`, async () => {
        const res = await route.send(A, tokenFor(A, role, route), A.t.id);
        if (allowed) expect(res.status).toBe(route.ok);
        else await expectError(res, 403, "Forbidden");
      });
      it(`${route.name} as ${role}, invalid request → ${allowed ? route.invalidStatus : 403} (permission first)`, async () => {
        const res = await route.invalid(A, tokenFor(A, role, route), A.t.id);
        if (allowed) expect(res.status).toBe(route.invalidStatus);
        else await expectError(res, 403, "Forbidden");
      });
    }
  }
});

describe("tenancy: the distributor header and other tenants", () => {
  for (const route of ROUTES) {
    it(`${route.name}: another distributor's id in x-distributor-id → 404`, async () => {
      await expectError(await route.send(A, A.t.users.OWNER.mfaToken, B.t.id), 404, "Not found");
    });
    it(`${route.name}: unknown or malformed x-distributor-id → 404`, async () => {
      await expectError(await route.send(A, A.t.users.OWNER.mfaToken, crypto.randomUUID()), 404, "Not found");
      await expectError(await route.send(A, A.t.users.OWNER.mfaToken, "acme"), 404, "Not found");
    });
    it(`${route.name}: missing x-distributor-id → 400`, async () => {
      await expectError(await route.send(A, A.t.users.OWNER.mfaToken, null), 400, "Invalid request");
    });
    it(`${route.name}: a user in no distributor → 404, even with an invalid request`, async () => {
      const outsider = await newUser(sql, { aal: "aal2" });
      await expectError(await route.send(A, outsider.token, A.t.id), 404, "Not found");
      await expectError(await route.invalid(A, outsider.token, A.t.id), 404, "Not found");
    });
  }

  it("ids of another distributor answer 404 under my own distributor, and nothing of theirs changes", async () => {
    const me = A.t.users.OWNER;
    const before = await sql`select
        (select count(*)::int from public.messages where conversation_id = ${B.conversationId}) as messages,
        (select deleted_at from public.messages where id = ${B.messageId}) as deleted_at,
        (select contact_encrypted from public.customers where id = ${B.customerId}) as contact,
        (select tags from public.customers where id = ${B.customerId}) as tags,
        (select status from public.orders where id = ${B.orderId}) as order_status,
        (select count(*)::int from public.orders where distributor_id = ${B.t.id}) as orders,
        (select count(*)::int from public.data_access_audit where distributor_id = ${B.t.id}) as audits`;
    const cases: [string, Promise<Response>][] = [
      ["messages of B's conversation", api("GET", `/conversations/${B.conversationId}/messages`, me.token, A.t.id)],
      ["send into B's conversation", api("POST", "", me.token, A.t.id, { body: { conversation_id: B.conversationId, content: "hi" } })],
      ["delete B's message", api("DELETE", `/${B.messageId}`, me.token, A.t.id)],
      ["read B's customer", api("GET", `/customers/${B.customerId}`, me.token, A.t.id)],
      ["change B's customer", api("PATCH", `/customers/${B.customerId}`, me.token, A.t.id, { body: { tags: ["stolen"] } })],
      ["order for B's customer", api("POST", "/orders", me.token, A.t.id, { body: { customer_id: B.customerId, items: [{ sku: "X", quantity: 1 }] } })],
      ["order with B's conversation", api("POST", "/orders", me.token, A.t.id, {
        body: { customer_id: A.customerId, conversation_id: B.conversationId, items: [{ sku: "X", quantity: 1 }] },
      })],
      ["confirm B's order", api("POST", `/orders/${B.orderId}/confirm`, me.token, A.t.id)],
    ];
    for (const [what, res] of cases) {
      const r = await res;
      expect(r.status, what).toBe(404);
      expect((await r.json()).error, what).toBe("Not found");
    }
    const after = await sql`select
        (select count(*)::int from public.messages where conversation_id = ${B.conversationId}) as messages,
        (select deleted_at from public.messages where id = ${B.messageId}) as deleted_at,
        (select contact_encrypted from public.customers where id = ${B.customerId}) as contact,
        (select tags from public.customers where id = ${B.customerId}) as tags,
        (select status from public.orders where id = ${B.orderId}) as order_status,
        (select count(*)::int from public.orders where distributor_id = ${B.t.id}) as orders,
        (select count(*)::int from public.data_access_audit where distributor_id = ${B.t.id}) as audits`;
    expect(after).toEqual(before);
    expect(before[0].order_status).toBe("pending");
  });

  it("lists show only my distributor's rows", async () => {
    const me = A.t.users.OWNER;
    const convs = await (await api("GET", "/conversations?limit=100", me.token, A.t.id)).json();
    const customers = await (await api("GET", "/customers?limit=100", me.token, A.t.id)).json();
    const orders = await (await api("GET", "/orders?limit=100", me.token, A.t.id)).json();
    const ids = JSON.stringify([convs, customers, orders]);
    for (const id of [B.conversationId, B.webConversationId, B.customerId, B.orderId]) expect(ids).not.toContain(id);
    expect(convs.conversations.map((c: { id: string }) => c.id)).toContain(A.conversationId);
  });
});

describe("authentication (every route)", () => {
  for (const route of ROUTES) {
    authenticationCases(route.name, (headers) => {
      const body = route.body?.(A);
      return app.request(`${BASE}${route.path(A)}`, {
        method: route.method,
        headers: { ...headers, "x-distributor-id": A.t.id, ...(body ? { "content-type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
    });
  }
});

describe("GET /conversations", () => {
  it("lists with the documented fields, masked previews, most recent first, nulls last, filtered by status", async () => {
    const w = await world();
    const cu = await addCustomer(w.t, { name: "Bob" });
    const older = await addConversation(w.t, cu, { channel: "sms", status: "pending", lastMessageAt: "2026-01-01T10:00:00.000001Z", preview: "Call [PHONE_1]" });
    const never = await addConversation(w.t, cu, { channel: "email", status: "closed", lastMessageAt: null, preview: null });
    const res = await api("GET", "/conversations", w.t.users.OPERATOR.token, w.t.id);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = await res.json();
    expect(body.next_cursor).toBeNull();
    const ids = body.conversations.map((c: { id: string }) => c.id);
    expect(ids.slice(-2)).toEqual([older, never]);
    const o = body.conversations.find((c: { id: string }) => c.id === older);
    expect(o).toEqual({
      id: older, customer_id: cu, channel: "sms", status: "pending", last_message_at: "2026-01-01T10:00:00.000001+00:00", preview: "Call [PHONE_1]",
    });
    const pending = await (await api("GET", "/conversations?status=pending", w.t.users.OPERATOR.token, w.t.id)).json();
    expect(pending.conversations.map((c: { id: string }) => c.id)).toEqual([older]);
    const closed = await (await api("GET", "/conversations?status=closed", w.t.users.OPERATOR.token, w.t.id)).json();
    expect(closed.conversations).toEqual([expect.objectContaining({ id: never, last_message_at: null, preview: null })]);
  });

  it("pages with opaque keyset cursors: no duplicates, no gaps, ties and nulls included", async () => {
    const w = await world();
    const same = "2026-02-02T12:00:00.123456Z";
    const expected: string[] = [];
    for (let i = 0; i < 9; i++) {
      const cu = await addCustomer(w.t, { name: `C${i}` });
      const lastMessageAt = i < 4 ? same : i < 6 ? `2026-02-0${i - 3}T00:00:00Z` : null;
      expected.push(await addConversation(w.t, cu, { lastMessageAt, channel: "web" }));
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

  it("rejects bad queries with 400", async () => {
    const tk = A.t.users.OWNER.token;
    for (const q of ["limit=0", "limit=101", "limit=abc", "status=archived", "cursor=!!", `cursor=${btoa("[1,2]")}`, "cursor=abc"]) {
      expect((await api("GET", `/conversations?${q}`, tk, A.t.id)).status, q).toBe(400);
    }
    expect((await api("GET", "/conversations?limit=100", tk, A.t.id)).status).toBe(200);
  });
});

describe("GET /conversations/:id/messages", () => {
  it("decrypts content newest first, leaves out deleted messages, and audits each read once", async () => {
    const w = await world();
    const conv = await addConversation(w.t, w.customerId, { channel: "sms" });
    const m1 = await addMessage(w.t, conv, { content: { text: "my card is 4111 1111 1111 1111" }, createdAt: "2026-03-01T10:00:00Z", externalId: "wamid.in1" });
    const m2 = await addMessage(w.t, conv, {
      content: { caption: "the invoice", media: { id: "media-1", mime_type: "image/jpeg" } }, type: "image", createdAt: "2026-03-01T10:01:00Z",
    });
    const m3 = await addMessage(w.t, conv, { content: { text: "sorry" }, direction: "outbound", status: "read", createdAt: "2026-03-01T10:02:00Z" });
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
          details: { caption: "the invoice", media: { id: "media-1", mime_type: "image/jpeg" } }, created_at: "2026-03-01T10:01:00+00:00",
        },
        {
          id: m1, direction: "inbound", message_type: "text", content: "my card is 4111 1111 1111 1111", status: "received",
          external_id: "wamid.in1", details: null, created_at: "2026-03-01T10:00:00+00:00",
        },
      ],
      next_cursor: null,
    });
    const audit = await auditRows(w.t.id, "messages.read_content");
    expect(audit).toEqual([{
      action: "messages.read_content", table_name: "messages", record_id: conv, user_id: w.t.users.OPERATOR.id,
      details: { count: 2 }, ip: "198.51.100.4", user_agent: "vitest",
    }]);
    expect(JSON.stringify(audit)).not.toContain("4111");
  });

  it("pages newest first without duplicates or gaps (equal timestamps too), one audit row per page", async () => {
    const w = await world();
    const conv = await addConversation(w.t, w.customerId, { channel: "email" });
    const ids: string[] = [];
    // ties, and timestamps apart by one microsecond only (a millisecond cursor would repeat or skip rows)
    const at = ["2026-04-01T00:00:00.5Z", "2026-04-01T00:00:00.5Z", "2026-04-01T00:00:00.500001Z", "2026-04-01T00:00:00.500002Z",
      "2026-04-01T00:00:00.500003Z", "2026-04-01T00:00:00.500003Z", "2026-04-02T00:00:00Z"];
    for (let i = 0; i < 7; i++) ids.push(await addMessage(w.t, conv, { content: { text: `m${i}` }, createdAt: at[i] }));
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
    const audit = await auditRows(w.t.id, "messages.read_content");
    expect(audit.map((a) => a.details.count)).toEqual([3, 3, 1]);
  });

  it("another tenant's conversation, an unknown id or a malformed id → 404 and no audit row", async () => {
    const tk = A.t.users.OWNER.token;
    const before = (await auditRows(A.t.id, "messages.read_content")).length;
    await expectError(await api("GET", `/conversations/${B.conversationId}/messages`, tk, A.t.id), 404, "Not found");
    await expectError(await api("GET", `/conversations/${crypto.randomUUID()}/messages`, tk, A.t.id), 404, "Not found");
    await expectError(await api("GET", "/conversations/123/messages", tk, A.t.id), 404, "Not found");
    expect((await auditRows(A.t.id, "messages.read_content")).length).toBe(before);
    expect((await auditRows(B.t.id, "messages.read_content")).length).toBe(0);
  });
});

describe("POST / (send)", () => {
  beforeEach(() => graph.reset());

  it("stores a web message sealed with a masked preview, bumps the conversation and audits", async () => {
    const w = await world();
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
    expect(m.preview).toContain("[EMAIL_1]");
    expect(JSON.stringify(m)).not.toContain("jane.doe");
    expect(await openMessageContent(await keysOf(w.t), m.id, m as unknown as SealedColumns)).toEqual({ text: "Write to jane.doe@example.org please" });
    const [conv] = await sql`select preview, last_message_at from public.conversations where id = ${w.webConversationId}`;
    expect(conv.preview).toBe(m.preview);
    expect(conv.last_message_at.getTime()).toBeGreaterThan(Date.now() - 60_000);
    const audit = await auditRows(w.t.id, "messages.send");
    expect(audit).toEqual([expect.objectContaining({
      table_name: "messages", record_id: body.id, user_id: u.id,
      details: { message_type: "text", attachments: 0, conversation_id: w.webConversationId },
    })]);
  });

  it("sends through the WhatsApp Cloud API: 429 with Retry-After 0, then success → wamid stored, status sent", async () => {
    const w = await world();
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

  it("sends attachments as links after the text, stored in the sealed content", async () => {
    const w = await world();
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
    expect(await openMessageContent(await keysOf(w.t), id, m as unknown as SealedColumns)).toEqual({
      text: "Here is the catalogue", attachments: ["https://cdn.example.com/a.jpg", "http://cdn.example.com/b.pdf"],
    });
  });

  it("Graph failing (500s) → 502 generic, message failed with Meta's error code and title", async () => {
    const w = await world();
    graph.setDefault(graphError(500, 131000, "Something went wrong"));
    const res = await api("POST", "", w.t.users.OWNER.token, w.t.id, { body: { conversation_id: w.conversationId, content: "hello?" } });
    await expectError(res, 502, "Upstream service error");
    expect(graph.requests).toHaveLength(3);
    const rows = await sql`select status, error_code, error_title, external_id from public.messages
                           where conversation_id = ${w.conversationId} and direction = 'outbound'`;
    expect(rows).toEqual([{ status: "failed", error_code: "131000", error_title: "Something went wrong", external_id: null }]);
  });

  it("a Graph 4xx is not retried; malformed JSON on 200 fails the message", async () => {
    const w = await world();
    graph.script(graphError(400, 131030, "Recipient phone number not in allowed list"));
    await expectError(await api("POST", "", w.t.users.OWNER.token, w.t.id, { body: { conversation_id: w.conversationId, content: "a" } }), 502, "Upstream service error");
    expect(graph.requests).toHaveLength(1);
    graph.script({ status: 200, body: "{oops" });
    await expectError(await api("POST", "", w.t.users.OWNER.token, w.t.id, { body: { conversation_id: w.conversationId, content: "b" } }), 502, "Upstream service error");
    const rows = await sql`select error_code from public.messages where conversation_id = ${w.conversationId} and direction = 'outbound' order by created_at`;
    expect(rows.map((r) => r.error_code).sort()).toEqual(["131030", "invalid_response"]);
  });

  it("a customer without a WhatsApp id → 502 and failed, without calling Graph", async () => {
    const w = await world();
    const cu = await addCustomer(w.t, { name: "No Number" });
    const conv = await addConversation(w.t, cu, { accountId: w.account.id });
    await expectError(await api("POST", "", w.t.users.OWNER.token, w.t.id, { body: { conversation_id: conv, content: "hi" } }), 502, "Upstream service error");
    expect(graph.requests).toHaveLength(0);
    const [m] = await sql`select status, error_code from public.messages where conversation_id = ${conv}`;
    expect(m).toEqual({ status: "failed", error_code: "no_recipient" });
  });

  it("validation: 400 with nothing stored and nothing sent", async () => {
    const w = await world();
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
      ["lowercase message_type", { conversation_id: conv, content: "x", message_type: "text" }],
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
    expect(await messageCount(conv)).toBe(1); // the world's one inbound message
    expect(graph.requests).toHaveLength(0);
    expect(await auditRows(w.t.id, "messages.send")).toEqual([]);
    // the boundaries themselves are accepted (a web conversation carries 10,000 characters)
    expect((await api("POST", "", tk, w.t.id, { body: { conversation_id: w.webConversationId, content: "z".repeat(10_000) } })).status).toBe(201);
    expect((await api("POST", "", tk, w.t.id, {
      body: { conversation_id: w.webConversationId, content: "ten", attachments: Array.from({ length: 10 }, (_, i) => `https://e.com/${i}`) },
    })).status).toBe(201);
    for (const t of ["TEXT", "IMAGE", "AUDIO", "FILE", "ORDER_CONTEXT"]) {
      const r = await api("POST", "", tk, w.t.id, { body: { conversation_id: w.webConversationId, content: t, message_type: t } });
      expect(r.status, t).toBe(201);
      const [m] = await sql`select message_type from public.messages where id = ${(await r.json()).id}`;
      expect(m.message_type).toBe(t.toLowerCase());
    }
  });

  it("never logs message content or tokens", async () => {
    const lines: string[] = [];
    const logged = await otherApp({ LOG_LEVEL: "debug" }, { logger: createLogger("debug", (l) => lines.push(l)) });
    const w = await world();
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
  async function awayFromWindowEdge(seconds: number) {
    const [{ s }] = await sql`select extract(epoch from clock_timestamp())::float8 as s`;
    const left = 60 - (s % 60);
    if (left < seconds) await sleep((left + 0.3) * 1000);
  }

  it("a lower configured limit: the next request gets 429 with Retry-After, stores nothing; other distributors unaffected", async () => {
    const limited = await otherApp({ MESSAGES_RATE_LIMIT_PER_MINUTE: "3" });
    const [w, other] = await Promise.all([world(), world()]);
    await awayFromWindowEdge(10);
    const send = (x: World) => api("POST", "", x.t.users.OPERATOR.token, x.t.id, { app: limited, body: { conversation_id: x.webConversationId, content: "hi" } });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await send(w)).status);
    expect(statuses).toEqual([201, 201, 201]);
    const res = await send(w);
    await expectError(res, 429, "Too many requests");
    expect(Number(res.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
    expect(res.headers.get("RateLimit-Limit")).toBe("3");
    expect(res.headers.get("RateLimit-Remaining")).toBe("0");
    expect(await messageCount(w.webConversationId)).toBe(3);
    expect((await send(other)).status).toBe(201);
  });

  it("a stranger's requests (404) do not spend a distributor's quota", async () => {
    const limited = await otherApp({ MESSAGES_RATE_LIMIT_PER_MINUTE: "2" });
    const w = await world();
    const stranger = await newUser(sql);
    await awayFromWindowEdge(10);
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

  it("the default is 100 per minute: the 101st is refused", async () => {
    const defaults = await otherApp({});
    const w = await world();
    await awayFromWindowEdge(25);
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
    expect(await messageCount(w.webConversationId)).toBe(100);
  }, 60_000);
});

describe("DELETE /:messageId", () => {
  it("soft-deletes, audits, hides it from reads, moves the preview back, and a second delete is 404", async () => {
    const w = await world();
    const conv = await addConversation(w.t, w.customerId, { channel: "sms", preview: "latest" });
    const older = await addMessage(w.t, conv, { preview: "earlier one", createdAt: "2026-05-01T00:00:00Z" });
    const latest = await addMessage(w.t, conv, { preview: "latest", createdAt: "2026-05-02T00:00:00Z" });
    const u = w.t.users.ADMIN;
    const res = await api("DELETE", `/${latest}`, u.token, w.t.id);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true });
    const [m] = await sql`select deleted_at from public.messages where id = ${latest}`;
    expect(m.deleted_at).toBeInstanceOf(Date);
    const [c] = await sql`select preview from public.conversations where id = ${conv}`;
    expect(c.preview).toBe("earlier one");
    const list = await (await api("GET", `/conversations/${conv}/messages`, u.token, w.t.id)).json();
    expect(list.messages.map((x: { id: string }) => x.id)).toEqual([older]);
    expect(await auditRows(w.t.id, "messages.delete")).toEqual([expect.objectContaining({
      table_name: "messages", record_id: latest, user_id: u.id, details: { conversation_id: conv },
    })]);
    await expectError(await api("DELETE", `/${latest}`, u.token, w.t.id), 404, "Not found");
    await expectError(await api("DELETE", `/${crypto.randomUUID()}`, u.token, w.t.id), 404, "Not found");
  });

  it("MANAGER and OPERATOR cannot delete (403) and the message stays", async () => {
    const w = await world();
    for (const role of ["MANAGER", "OPERATOR"] as const) {
      await expectError(await api("DELETE", `/${w.messageId}`, w.t.users[role].token, w.t.id), 403, "Forbidden");
    }
    const [m] = await sql`select deleted_at from public.messages where id = ${w.messageId}`;
    expect(m.deleted_at).toBeNull();
    expect(await auditRows(w.t.id, "messages.delete")).toEqual([]);
  });
});

describe("customers", () => {
  it("GET /customers decrypts contact data, pages without gaps, and writes one audit row per request", async () => {
    const w = await world();
    const same = "2026-06-01T00:00:00.000007Z";
    for (let i = 0; i < 5; i++) await addCustomer(w.t, { name: `Customer ${i}`, email: `c${i}@example.com`, phone: `+1555000${i}` }, { createdAt: same, tags: ["b2b"] });
    const first = await api("GET", "/customers?limit=4", w.t.users.OPERATOR.token, w.t.id);
    expect(first.status).toBe(200);
    const p1 = await first.json();
    expect(p1.customers).toHaveLength(4);
    expect(Object.keys(p1.customers[0]).sort()).toEqual(["created_at", "email", "id", "name", "phone", "tags"]);
    const p2 = await (await api("GET", `/customers?limit=4&cursor=${p1.next_cursor}`, w.t.users.OPERATOR.token, w.t.id)).json();
    expect(p2.next_cursor).toBeNull();
    const all = [...p1.customers, ...p2.customers];
    expect(all).toHaveLength(6);
    expect(new Set(all.map((c) => c.id)).size).toBe(6);
    expect(all.find((c) => c.id === w.customerId)).toEqual({
      id: w.customerId, name: "Ada Lovelace", phone: `+${w.waId}`, email: "ada@example.com", tags: [], created_at: expect.any(String),
    });
    expect(all.filter((c) => c.tags[0] === "b2b").map((c) => c.name).sort()).toEqual(["Customer 0", "Customer 1", "Customer 2", "Customer 3", "Customer 4"]);
    const audit = await auditRows(w.t.id, "customers.read");
    expect(audit.map((a) => [a.table_name, a.record_id, a.details])).toEqual([["customers", null, { count: 4 }], ["customers", null, { count: 2 }]]);
    expect(JSON.stringify(audit)).not.toContain("example.com");
  });

  it("GET /customers/:id returns the customer with notes and audits; other tenants' ids are 404", async () => {
    const res = await api("GET", `/customers/${A.customerId}`, A.t.users.OPERATOR.token, A.t.id);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ id: A.customerId, name: "Ada Lovelace", email: "ada@example.com" });
    expect(body).toHaveProperty("notes");
    const audit = await auditRows(A.t.id, "customers.read");
    expect(audit.some((a) => a.record_id === A.customerId && a.details.count === 1)).toBe(true);
    await expectError(await api("GET", `/customers/${B.customerId}`, A.t.users.OWNER.token, A.t.id), 404, "Not found");
  });

  it("PATCH re-seals contact data, updates lookup hashes, seals notes, audits the field names", async () => {
    const w = await world();
    const u = w.t.users.MANAGER;
    const res = await api("PATCH", `/customers/${w.customerId}`, u.token, w.t.id, {
      body: { name: " Ada King ", email: "ada.king@example.net", phone: "+44 20 7946 0000", tags: ["vip", "vip", "wholesale"], notes: "Prefers calls after 6pm, ssn 078-05-1120" },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      id: w.customerId, name: "Ada King", email: "ada.king@example.net", phone: "+44 20 7946 0000", tags: ["vip", "wholesale"],
      notes: "Prefers calls after 6pm, ssn 078-05-1120", created_at: expect.any(String),
    });
    const keys = await keysOf(w.t);
    const [row] = await sql`select * from public.customers where id = ${w.customerId}`;
    expect(await openCustomerContact(keys, w.customerId, row as unknown as SealedContact)).toEqual({
      name: "Ada King", email: "ada.king@example.net", phone: "+44 20 7946 0000", wa_id: w.waId,
    });
    expect(row.phone_hash).toBe(await phoneLookupHash(keys, "442079460000"));
    expect(row.email_hash).toBe(await emailLookupHash(keys, "ADA.KING@example.net"));
    expect(row.wa_id_hash).toBe(await phoneLookupHash(keys, w.waId));
    expect(row.notes).toMatch(/^enc:v1:/);
    expect(JSON.stringify(row)).not.toMatch(/Ada|ada\.king|078-05|7946/);
    expect(await auditRows(w.t.id, "customers.update")).toEqual([expect.objectContaining({
      record_id: w.customerId, user_id: u.id, details: { fields: ["email", "name", "notes", "phone", "tags"] },
    })]);

    // null clears; untouched fields stay
    const cleared = await (await api("PATCH", `/customers/${w.customerId}`, u.token, w.t.id, { body: { email: null, notes: null } })).json();
    expect(cleared).toMatchObject({ name: "Ada King", email: null, notes: null, tags: ["vip", "wholesale"] });
    const [after] = await sql`select email_hash, notes from public.customers where id = ${w.customerId}`;
    expect(after).toEqual({ email_hash: null, notes: null });
  });

  it("PATCH validation → 400, nothing changed; other tenant → 404; OPERATOR → 403 even for a bad body", async () => {
    const w = await world();
    const tk = w.t.users.OWNER.token;
    const [before] = await sql`select contact_encrypted, tags, updated_at from public.customers where id = ${w.customerId}`;
    for (const body of [{}, { email: "nope" }, { name: "" }, { name: "x".repeat(201) }, { phone: "call me" }, { phone: "+1 23" },
      { tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }, { tags: [""] }, { notes: "n".repeat(5001) }, { wa_id: "123" }, "nope"]) {
      expect((await api("PATCH", `/customers/${w.customerId}`, tk, w.t.id, { body })).status, JSON.stringify(body)).toBe(400);
    }
    const [after] = await sql`select contact_encrypted, tags, updated_at from public.customers where id = ${w.customerId}`;
    expect(after).toEqual(before);
    await expectError(await api("PATCH", `/customers/${B.customerId}`, tk, w.t.id, { body: { name: "x" } }), 404, "Not found");
    await expectError(await api("PATCH", `/customers/${w.customerId}`, w.t.users.OPERATOR.token, w.t.id, { body: { email: "nope" } }), 403, "Forbidden");
  });

  describe("GET /customers/export", () => {
    it("requires aal2 (403 MFA required, nothing audited) and customers.export", async () => {
      const w = await world();
      await expectError(await api("GET", "/customers/export", w.t.users.OWNER.token, w.t.id), 403, "Multi-factor authentication required");
      await expectError(await api("GET", "/customers/export?format=xml", w.t.users.ADMIN.token, w.t.id), 403, "Multi-factor authentication required");
      await expectError(await api("GET", "/customers/export", w.t.users.MANAGER.mfaToken, w.t.id), 403, "Forbidden");
      await expectError(await api("GET", "/customers/export", w.t.users.MANAGER.token, w.t.id), 403, "Forbidden");
      expect(await auditRows(w.t.id, "customers.export")).toEqual([]);
      const off = await otherApp({ REQUIRE_MFA_FOR_ADMIN_ACTIONS: "false" });
      expect((await api("GET", "/customers/export", w.t.users.OWNER.token, w.t.id, { app: off })).status).toBe(200);
    });

    it("exports JSON with every customer and writes one audit row with the count", async () => {
      const w = await world();
      await addCustomer(w.t, { name: "Second", email: "second@example.com" });
      const res = await api("GET", "/customers/export?format=json", w.t.users.ADMIN.mfaToken, w.t.id);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-disposition")).toBe('attachment; filename="customers.json"');
      expect(res.headers.get("cache-control")).toBe("no-store");
      const body = await res.json();
      expect(body.count).toBe(2);
      expect(body.truncated).toBe(false);
      expect(body.customers.map((c: { name: string }) => c.name)).toEqual(["Second", "Ada Lovelace"]);
      expect(await auditRows(w.t.id, "customers.export")).toEqual([expect.objectContaining({
        table_name: "customers", record_id: null, user_id: w.t.users.ADMIN.id, details: { count: 2, format: "json" },
      })]);
    });

    it("exports CSV with a header row, RFC 4180 quoting and formula-injection guards", async () => {
      const t = await createTenant(deps, sql, "CSV Co");
      const tricky = await addCustomer(t, { name: '=HYPERLINK("http://evil.example","click")', email: "@SUM(A1)", phone: "+15550001111" },
        { tags: ["a", "b,c"], createdAt: "2026-07-02T00:00:00Z" });
      const plain = await addCustomer(t, { name: 'Smith, "Jo"\nline2', email: "jo@example.com", phone: "-5" }, { createdAt: "2026-07-01T00:00:00Z" });
      await sql`update public.customers set notes = 'plain legacy note' where id = ${plain}`;
      const res = await api("GET", "/customers/export?format=csv", t.users.OWNER.mfaToken, t.id);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
      expect(res.headers.get("content-disposition")).toBe('attachment; filename="customers.csv"');
      const text = await res.text();
      expect(text).toBe(
        "id,name,phone,email,tags,notes,created_at\r\n" +
        `${tricky},"'=HYPERLINK(""http://evil.example"",""click"")","'+15550001111","'@SUM(A1)","a;b,c",,2026-07-02T00:00:00+00:00\r\n` +
        `${plain},"Smith, ""Jo""\nline2","'-5",jo@example.com,,plain legacy note,2026-07-01T00:00:00+00:00\r\n`,
      );
      expect(await auditRows(t.id, "customers.export")).toEqual([expect.objectContaining({ details: { count: 2, format: "csv" } })]);
    });
  });
});

describe("orders", () => {
  it("POST /orders computes the total, seals notes, audits; GET /orders lists them decrypted", async () => {
    const w = await world();
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
      items: [{ sku: "WATER-6", quantity: 3, unit_price: 4.5 }, { sku: "CUP", quantity: 100, unit_price: 0.1 }, { sku: "FREEBIE", quantity: 1 }],
      total: "23.50", notes: "Leave at the back door, code 4411", created_at: expect.any(String), confirmed_at: null,
    });
    const [row] = await sql`select * from public.orders where id = ${order.id}`;
    expect(row).toMatchObject({ distributor_id: w.t.id, total: "23.50", created_by: u.id, status: "pending" });
    expect(JSON.stringify(row)).not.toContain("back door");
    expect(await openFor(await keysOf(w.t), "orders", order.id, { encryptedValue: row.notes_encrypted, iv: row.notes_iv, keyVersion: row.key_version }))
      .toBe("Leave at the back door, code 4411");
    expect(await auditRows(w.t.id, "orders.create")).toEqual([expect.objectContaining({ record_id: order.id, user_id: u.id, details: { items: 3 } })]);

    const list = await (await api("GET", "/orders", w.t.users.OPERATOR.token, w.t.id)).json();
    expect(list.orders[0]).toEqual(order);
    expect(list.orders).toHaveLength(2);
    expect(list.orders[1]).toMatchObject({ id: w.orderId, total: "2.50", notes: null });
    const audit = await auditRows(w.t.id, "orders.read");
    expect(audit.map((a) => a.details)).toEqual([{ count: 2 }]);
  });

  it("an order without prices has no total; without a conversation, conversation_id is null", async () => {
    const w = await world();
    const res = await api("POST", "/orders", w.t.users.OWNER.token, w.t.id, { body: { customer_id: w.customerId, items: [{ sku: "A", quantity: 1 }] } });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ total: null, conversation_id: null, notes: null });
  });

  it("validation → 400 and nothing stored; another customer's conversation → 404", async () => {
    const w = await world();
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
    const otherCustomer = await addCustomer(w.t, { name: "Other" });
    await expectError(await api("POST", "/orders", tk, w.t.id, {
      body: { customer_id: otherCustomer, conversation_id: w.conversationId, items: [item] },
    }), 404, "Not found");
    await expectError(await api("POST", "/orders", tk, w.t.id, { body: { customer_id: crypto.randomUUID(), items: [item] } }), 404, "Not found");
    const [{ n }] = await sql`select count(*)::int as n from public.orders where distributor_id = ${w.t.id}`;
    expect(n).toBe(1);
  });

  it("permission before validation: an OPERATOR posting an invalid order gets 403, not 400", async () => {
    await expectError(await api("POST", "/orders", A.t.users.OPERATOR.token, A.t.id, { body: { items: "nope" } }), 403, "Forbidden");
    await expectError(await api("POST", "/orders", A.t.users.OPERATOR.token, A.t.id, { body: "{not json" }), 403, "Forbidden");
  });

  it("GET /orders pages and filters by status", async () => {
    const w = await world();
    for (let i = 0; i < 4; i++) await addOrder(w.t, w.customerId, { status: i % 2 ? "confirmed" : "pending", createdAt: "2026-08-01T00:00:00Z", notes: `note ${i}` });
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

  it("POST /orders/:id/confirm: pending → confirmed once; then 409; cancelled → 409; other tenant → 404", async () => {
    const w = await world();
    const u = w.t.users.MANAGER;
    const id = await addOrder(w.t, w.customerId, { notes: "fragile" });
    const res = await api("POST", `/orders/${id}/confirm`, u.token, w.t.id);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id, status: "confirmed", notes: "fragile", confirmed_at: expect.any(String), total: "2.50" });
    const [row] = await sql`select status, confirmed_by, confirmed_at from public.orders where id = ${id}`;
    expect(row).toMatchObject({ status: "confirmed", confirmed_by: u.id });
    await expectError(await api("POST", `/orders/${id}/confirm`, u.token, w.t.id), 409, "Conflict");
    const cancelled = await addOrder(w.t, w.customerId, { status: "cancelled" });
    await expectError(await api("POST", `/orders/${cancelled}/confirm`, u.token, w.t.id), 409, "Conflict");
    await expectError(await api("POST", `/orders/${B.orderId}/confirm`, u.token, w.t.id), 404, "Not found");
    await expectError(await api("POST", `/orders/${crypto.randomUUID()}/confirm`, u.token, w.t.id), 404, "Not found");
    expect((await auditRows(w.t.id, "orders.confirm")).map((a) => a.record_id)).toEqual([id]);
  });

  it("two concurrent confirms: exactly one wins", async () => {
    const w = await world();
    const id = await addOrder(w.t, w.customerId);
    const [r1, r2] = await Promise.all([
      api("POST", `/orders/${id}/confirm`, w.t.users.OWNER.token, w.t.id),
      api("POST", `/orders/${id}/confirm`, w.t.users.ADMIN.token, w.t.id),
    ]);
    expect([r1.status, r2.status].sort()).toEqual([200, 409]);
  });
});

describe("HTTP frame", () => {
  it("serves an OpenAPI document with every route", async () => {
    const res = await app.request(`${BASE}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = await res.json();
    const ops = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
      .flatMap(([p, m]) => Object.keys(m).map((k) => `${k.toUpperCase()} ${p}`)).sort();
    expect(ops).toEqual([
      "DELETE /{messageId}", "GET /conversations", "GET /conversations/{id}/messages", "GET /customers", "GET /customers/export",
      "GET /customers/{id}", "GET /orders", "PATCH /customers/{id}", "POST /", "POST /orders", "POST /orders/{id}/confirm",
    ]);
    expect(doc.components.schemas.MessageCreate.required).toEqual(["conversation_id", "content"]);
    expect(JSON.stringify(doc.paths["/conversations"].get.parameters)).toContain("x-distributor-id");
  });

  it("lets browsers send x-distributor-id (CORS preflight)", async () => {
    const res = await app.request(`${BASE}/conversations`, {
      method: "OPTIONS",
      headers: { origin: ALLOWED_ORIGIN, "access-control-request-method": "GET", "access-control-request-headers": "authorization,x-distributor-id" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(ALLOWED_ORIGIN);
    expect(res.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("x-distributor-id");
  });
});
