// Set-up shared by the tests of the messages function (tests/messages/*.test.ts), as vitest
// fixtures: one fake Graph server, one Deps, one app and one superuser connection per file,
// set up on first use and closed after the file; worlds (a distributor with one user per
// role and some data) arranged directly in the shared storage formats.
//
//   import { test } from "../support/messages.ts";
//   test("…", async ({ api, arrange, sql }) => { const w = await arrange.world(); … });
import { test as base } from "vitest";
import type postgres from "postgres";
import { createApp } from "../../functions/messages/app.ts";
import {
  phoneLookupHash, sealAccessToken, sealCustomerContact, sealMessageContent, type CustomerContact, type MessageContent,
} from "../../shared/messaging/index.ts";
import type { Deps } from "../../shared/runtime/deps.ts";
import { sealFor } from "../../shared/tenancy/index.ts";
import { startFakeGraph, type FakeGraph } from "./fake-graph.ts";
import { adminSql, testDeps } from "./harness.ts";
import { createTenant, type Tenant } from "./tenancy.ts";

export const BASE = "http://localhost/functions/v1/messages";

export type App = ReturnType<typeof createApp>;
export interface Opts { body?: unknown; headers?: Record<string, string>; app?: App }
/** A request to the messages function: bearer token and x-distributor-id when not null; a JSON body unless a string. */
export type Api = (method: string, path: string, token: string | null, distributor: string | null, o?: Opts) => Promise<Response>;

export type SealedContact = { contact_encrypted: string | null; contact_iv: string | null; key_version: number | null };

/** A distributor with one user per role, a WhatsApp number, a customer, two conversations, a message, an order. */
export interface World {
  t: Tenant;
  account: { id: string; phoneNumberId: string; token: string };
  waId: string;
  customerId: string;
  conversationId: string;
  webConversationId: string;
  messageId: string;
  orderId: string;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Test data, arranged as the service in the shared storage formats. */
export function arranger(deps: Deps, sql: postgres.Sql) {
  const keysOf = (t: { id: string }) => deps.tenantKeys.get(t.id);
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

  return { keysOf, addCustomer, addAccount, addConversation, addMessage, addOrder, world, auditRows, messageCount };
}

export type Arrange = ReturnType<typeof arranger>;

function requester(app: App): Api {
  return (method, path, token, distributor, o = {}) => {
    const headers: Record<string, string> = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...o.headers };
    if (distributor !== null) headers["x-distributor-id"] = distributor;
    let body: string | undefined;
    if (o.body !== undefined) {
      headers["content-type"] ??= "application/json";
      body = typeof o.body === "string" ? o.body : JSON.stringify(o.body);
    }
    return Promise.resolve((o.app ?? app).request(`${BASE}${path}`, { method, headers, body }));
  };
}

export const test = base
  .extend("fakeGraph", { scope: "file" }, async ({}, { onCleanup }) => {
    const graph = await startFakeGraph();
    onCleanup(() => graph.close());
    return graph;
  })
  .extend("deps", { scope: "file" }, async ({ fakeGraph }, { onCleanup }) => {
    const deps = await testDeps({ GRAPH_API_BASE_URL: fakeGraph.url, MESSAGES_RATE_LIMIT_PER_MINUTE: "1000" });
    onCleanup(() => deps.db.end());
    return deps;
  })
  .extend("sql", { scope: "file" }, async ({}, { onCleanup }) => {
    const sql = adminSql();
    onCleanup(() => sql.end());
    return sql;
  })
  .extend("app", { scope: "file" }, async ({ deps }) => createApp(deps))
  .extend("api", { scope: "file" }, async ({ app }) => requester(app))
  .extend("arrange", { scope: "file" }, async ({ deps, sql }) => arranger(deps, sql))
  /** Another app over the same database, e.g. with other limits or a capturing logger. */
  .extend("otherApp", { scope: "file" }, async ({ fakeGraph }, { onCleanup }) => {
    const made: Deps[] = [];
    onCleanup(() => Promise.all(made.map((d) => d.db.end())).then(() => {}));
    return async (env: Record<string, string>, overrides: Partial<Omit<Deps, "config">> = {}): Promise<App> => {
      const d = await testDeps({ GRAPH_API_BASE_URL: fakeGraph.url, ...env }, overrides);
      made.push(d);
      return createApp(d);
    };
  })
  /** Two shared worlds for tests that do not care about exact contents (arranged once per file). */
  .extend("A", { scope: "file" }, async ({ arrange }) => await arrange.world("Alpha Foods"))
  .extend("B", { scope: "file" }, async ({ arrange }) => await arrange.world("Beta Drinks"))
  /** The fake Graph server, with no script left over from an earlier test. */
  .extend("graph", async ({ fakeGraph }): Promise<FakeGraph> => {
    fakeGraph.reset();
    return fakeGraph;
  });


