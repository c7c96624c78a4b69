// privacy: export and erase everything about a distributor's customer; the request log. The
// erasure test searches every column of every table, and a pg_dump, for what was erased.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, expect, inject } from "vitest";
import type postgres from "postgres";
import type { Deps } from "../../shared/runtime/deps.ts";
import { createApp } from "../../functions/privacy/app.ts";
import { createApp as createWebhook } from "../../functions/webhook-whatsapp/app.ts";
import { createApp as createMessages } from "../../functions/messages/app.ts";
import { encodeCursor } from "../../shared/http/cursor.ts";
import { test as fixtures } from "../support/fixtures.ts";
import { bearer, TEST_WHATSAPP_APP_SECRET } from "../support/harness.ts";
import { authenticationCases, expectError } from "../support/security.ts";
import { connectWhatsapp, createTenant, type Tenant } from "../support/tenancy.ts";
import { messagesPayload, msg, phoneNumberId, signedHeaders, waId } from "../support/meta.ts";

const base = "http://x/functions/v1/privacy";
type Post = (path: string, headers: Record<string, string>, body: unknown) => Promise<Response>;
const as = (token: string, distributor: string) => bearer(token, { "x-distributor-id": distributor });

const test = fixtures
  .extend("app", { scope: "file" }, async ({ deps }) => createApp(deps))
  /** Two distributors shared by the file's tests. */
  .extend("a", { scope: "file" }, async ({ deps, sql }) => await createTenant(deps, sql, "Privacy A"))
  .extend("b", { scope: "file" }, async ({ deps, sql }) => await createTenant(deps, sql, "Privacy B"))
  .extend("post", { scope: "file" }, async ({ app }): Promise<Post> => (path, headers, body) =>
    Promise.resolve(app.request(`${base}${path}`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify(body) })))
  .extend("customerWithHistory", { scope: "file" }, async ({ deps, sql }) => customerWithHistory(deps, sql));

// authenticationCases registers plain `it`s: they reach the file's fixtures through this hook.
const forAuthCases = {} as { app: ReturnType<typeof createApp>; a: Tenant; post: Post };
test.beforeAll(({ app, a, post }) => {
  Object.assign(forAuthCases, { app, a, post });
});

/** A customer with a conversation, messages (inbound with PII, outbound), an order with a note: through the real APIs. */
const customerWithHistory = (deps: Deps, sql: postgres.Sql) => async (t: Tenant, canary: { waId: string; name: string; email: string; note: string; reply: string }) => {
  const phoneId = phoneNumberId();
  await connectWhatsapp(deps, sql, t.id, phoneId);
  const body = JSON.stringify(messagesPayload(phoneId, [
    msg.text({ from: canary.waId, body: `Hello, I am ${canary.name}, mail me at ${canary.email}` }),
  ], { [canary.waId]: canary.name }));
  const hook = await createWebhook(deps).request("http://x/functions/v1/webhook-whatsapp", {
    method: "POST", headers: signedHeaders(body, TEST_WHATSAPP_APP_SECRET), body,
  });
  expect(hook.status).toBe(200);
  const [cu] = await sql`select c.id from public.customers c where c.distributor_id = ${t.id} and c.wa_id_hash is not null
                         order by created_at desc limit 1`;
  const [cv] = await sql`select id from public.conversations where customer_id = ${cu.id}`;
  await sql`update public.conversations set whatsapp_account_id = null where id = ${cv.id}`; // no Graph call
  const messages = createMessages(deps);
  const h = { ...as(t.users.OWNER.token, t.id), "content-type": "application/json" };
  expect((await messages.request("http://x/functions/v1/messages", {
    method: "POST", headers: h, body: JSON.stringify({ conversation_id: cv.id, content: canary.reply }),
  })).status).toBe(201);
  expect((await messages.request("http://x/functions/v1/messages/orders", {
    method: "POST", headers: h, body: JSON.stringify({ customer_id: cu.id, conversation_id: cv.id, items: [{ sku: "AB-1", quantity: 2, unit_price: "5.50" }], notes: canary.note }),
  })).status).toBe(201);
  expect((await messages.request(`http://x/functions/v1/messages/customers/${cu.id}`, { headers: h })).status).toBe(200); // an access-log entry
  return { customerId: cu.id as string, conversationId: cv.id as string };
};

describe("POST /export", () => {
  authenticationCases("POST /export", (h) => forAuthCases.post("/export", { ...h, "x-distributor-id": forAuthCases.a.id }, { customer_id: crypto.randomUUID() }));

  test("returns every record about the customer, decrypted, records the request and audits it", async ({ sql, a, post, customerWithHistory }) => {
    const canary = { waId: waId(), name: "Ottoline Export", email: "ottoline.export@example.org", note: "Leave at gate 7", reply: "Thanks Ottoline" };
    const { customerId, conversationId } = await customerWithHistory(a, canary);
    const res = await post("/export", as(a.users.ADMIN.mfaToken, a.id), { customer_id: customerId });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.customer).toMatchObject({ id: customerId, name: canary.name, wa_id: canary.waId });
    expect(body.customer).not.toHaveProperty("contact_encrypted");
    expect(body.customer).not.toHaveProperty("wa_id_hash");
    expect(body.conversations.map((c: { id: string }) => c.id)).toEqual([conversationId]);
    expect(body.messages).toHaveLength(2);
    expect(body.messages.map((m: { content: { text: string } }) => m.content.text)).toEqual(
      expect.arrayContaining([`Hello, I am ${canary.name}, mail me at ${canary.email}`, canary.reply]));
    expect(body.orders).toHaveLength(1);
    expect(body.orders[0].notes).toBe(canary.note);
    expect(body.pii_detection_results.length).toBeGreaterThan(0);
    expect(body.access_log.some((e: { action: string; record_id: string }) => e.action === "customers.read" && e.record_id === customerId)).toBe(true);
    const [req] = await sql`select type, status, requested_by, counts from public.privacy_requests where id = ${body.request_id}`;
    expect(req).toMatchObject({ type: "export", status: "completed", requested_by: a.users.ADMIN.id });
    expect(req.counts).toMatchObject({ customers: 1, conversations: 1, messages: 2, orders: 1 });
    const [audit] = await sql`select count(*)::int as n from public.data_access_audit where distributor_id = ${a.id} and action = 'privacy.export' and record_id = ${customerId}`;
    expect(audit.n).toBe(1);
  });

  test("needs customers.export with aal2; another tenant's customer is 404; a bad body 400", async ({ sql, a, b, post }) => {
    const [cu] = await sql`insert into public.customers (distributor_id) values (${b.id}) returning id`;
    await expectError(await post("/export", as(a.users.OWNER.token, a.id), { customer_id: cu.id }), 403, "Multi-factor authentication required");
    await expectError(await post("/export", as(a.users.MANAGER.mfaToken, a.id), { customer_id: cu.id }), 403, "Forbidden");
    await expectError(await post("/export", as(a.users.OWNER.mfaToken, a.id), { customer_id: cu.id }), 404, "Not found");
    await expectError(await post("/export", as(a.users.OWNER.mfaToken, b.id), { customer_id: cu.id }), 404, "Not found");
    await expectError(await post("/export", as(a.users.OWNER.mfaToken, a.id), { customer_id: "nope" }), 400, "Invalid request", [{ in: "body", path: "customer_id" }]);
    const [n] = await sql`select count(*)::int as n from public.privacy_requests where customer_id = ${cu.id}`;
    expect(n.n).toBe(0);
  });
});

/** pg_dump --data-only when the binary and a real server are there; else every row of every table as text. */
async function dumpDatabase(sql: postgres.Sql): Promise<string> {
  const pgDump = "/usr/lib/postgresql/15/bin/pg_dump";
  if (existsSync(pgDump) && inject("databaseKind") !== "pglite") {
    return execFileSync(pgDump, ["--data-only", "--no-owner", "--dbname", inject("databaseUrl")], { encoding: "utf8", maxBuffer: 1 << 30 });
  }
  return (await everyRow(sql)).map((r) => r.row).join("\n");
}

/** Every row of every table in every schema but the catalogs, as text, with its table. */
async function everyRow(sql: postgres.Sql): Promise<{ table: string; row: string }[]> {
  const tables = await sql`select table_schema, table_name from information_schema.tables
                           where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')`;
  const out: { table: string; row: string }[] = [];
  for (const t of tables) {
    const rows = await sql`select t::text as r from ${sql(t.table_schema)}.${sql(t.table_name)} t`;
    for (const r of rows) out.push({ table: `${t.table_schema}.${t.table_name}`, row: r.r });
  }
  return out;
}

describe("POST /erase", () => {
  authenticationCases("POST /erase", (h) => forAuthCases.post("/erase", { ...h, "x-distributor-id": forAuthCases.a.id }, { customer_id: crypto.randomUUID() }));

  test("leaves no trace: no row outside the audit tables and privacy_requests holds the id, nothing holds hashes or canaries", async ({ sql, a, post, customerWithHistory }) => {
    const canary = { waId: waId(), name: "Wilhelmina Erasecanary", email: "wilhelmina.erase@example.org", note: "Ring Wilhelmina twice", reply: "Bye Wilhelmina" };
    const { customerId, conversationId } = await customerWithHistory(a, canary);
    // A second customer of the same distributor must survive untouched.
    const other = await customerWithHistory(a, { waId: waId(), name: "Kept Customer", email: "kept@example.org", note: "keep", reply: "keep" });
    await post("/export", as(a.users.OWNER.mfaToken, a.id), { customer_id: customerId }); // an export to erase after
    const [hashes] = await sql`select wa_id_hash, phone_hash, email_hash from public.customers where id = ${customerId}`;
    const messageIds = (await sql`select id from public.messages where conversation_id = ${conversationId}`).map((r) => r.id as string);
    const orderIds = (await sql`select id from public.orders where customer_id = ${customerId}`).map((r) => r.id as string);
    const [sealed] = await sql`select contact_encrypted from public.customers where id = ${customerId}`;
    const contents = (await sql`select content_encrypted, preview from public.messages where conversation_id = ${conversationId}`);
    await sql`insert into public.event_outbox (distributor_id, event_type, payload) values (${a.id}, 'message.received', ${sql.json({ conversation_id: conversationId })})`;

    await expectError(await post("/erase", as(a.users.ADMIN.mfaToken, a.id), { customer_id: customerId }), 403, "Forbidden");
    await expectError(await post("/erase", as(a.users.OWNER.token, a.id), { customer_id: customerId }), 403, "Multi-factor authentication required");
    const res = await post("/erase", as(a.users.OWNER.mfaToken, a.id), { customer_id: customerId });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ customer_id: customerId, status: "completed" });
    expect(body.counts).toMatchObject({ customers: 1, conversations: 1, messages: 2, orders: 1 });
    expect(body.counts.event_outbox).toBeGreaterThanOrEqual(1);
    expect(body.counts.pii_detection_results).toBeGreaterThanOrEqual(1);

    const [req] = await sql`select type, status, counts, details, completed_at from public.privacy_requests where id = ${body.request_id}`;
    expect(req).toMatchObject({ type: "erase", status: "completed" });
    expect(req.details.orders_kept_as_totals.pending).toMatchObject({ count: 1, total: 11 });

    const idsOf = [customerId, conversationId, ...messageIds, ...orderIds];
    const kept = new Set(["public.data_access_audit", "public.privacy_requests"]);
    const rows = await everyRow(sql);
    for (const { table, row } of rows) {
      if (!kept.has(table)) for (const id of idsOf) expect(row.includes(id), `${table} still holds ${id}: ${row.slice(0, 300)}`).toBe(false);
    }
    const needles = [
      hashes.wa_id_hash, hashes.email_hash, hashes.phone_hash, sealed.contact_encrypted, ...contents.map((m) => m.content_encrypted),
      ...contents.map((m) => m.preview).filter((p) => p && p.length > 6),
      canary.waId, canary.name, "Erasecanary", canary.email, canary.note, canary.reply,
    ].filter(Boolean) as string[];
    for (const { table, row } of rows) {
      for (const n of needles) expect(row.includes(n), `${table} still holds ${n}`).toBe(false);
    }
    const dump = await dumpDatabase(sql);
    expect(dump).toContain("Privacy A");
    for (const n of needles) expect(dump.includes(n), `dump holds ${n}`).toBe(false);
    // The audit trail keeps ids only: no hash or canary in it (checked above), and the erasure is in it.
    const [audit] = await sql`select details from public.data_access_audit where action = 'privacy.erase' and record_id = ${customerId}`;
    expect(audit.details).toMatchObject({ request_id: body.request_id });
    // The other customer is intact.
    const [still] = await sql`select count(*)::int as n from public.messages where conversation_id = ${other.conversationId}`;
    expect(still.n).toBe(2);
    // A second erasure: the customer is gone.
    await expectError(await post("/erase", as(a.users.OWNER.mfaToken, a.id), { customer_id: customerId }), 404, "Not found");
  }, 60_000);

  test("another tenant's customer: 404, nothing deleted", async ({ sql, a, b, post }) => {
    const [cu] = await sql`insert into public.customers (distributor_id) values (${b.id}) returning id`;
    await expectError(await post("/erase", as(a.users.OWNER.mfaToken, a.id), { customer_id: cu.id }), 404, "Not found");
    await expectError(await post("/erase", as(a.users.OWNER.mfaToken, b.id), { customer_id: cu.id }), 404, "Not found");
    const [n] = await sql`select count(*)::int as n from public.customers where id = ${cu.id}`;
    expect(n.n).toBe(1);
  });
});

describe("GET /requests", () => {
  const list = (h: Record<string, string>, q = "") => forAuthCases.app.request(`${base}/requests${q}`, { headers: h });
  authenticationCases("GET /requests", (h) => list({ ...h, "x-distributor-id": forAuthCases.a.id }));

  test("lists the distributor's requests with status (OWNER/ADMIN), paged; others 403/404", async ({ sql, deps, a }) => {
    const t = await createTenant(deps, sql, "Requests Co");
    const [cu] = await sql`insert into public.customers (distributor_id) values (${t.id}) returning id`;
    await sql`insert into public.privacy_requests (distributor_id, customer_id, type, status, created_at)
              select ${t.id}, ${cu.id}, 'export', case when i = 1 then 'pending' else 'completed' end, now() - make_interval(mins => i)
              from generate_series(1, 3) i`;
    const p1 = await (await list(as(t.users.ADMIN.token, t.id), "?limit=2")).json();
    expect(p1.items).toHaveLength(2);
    expect(p1.items[0]).toMatchObject({ status: "pending", type: "export", customer_id: cu.id });
    const p2 = await (await list(as(t.users.ADMIN.token, t.id), `?limit=2&cursor=${p1.next_cursor}`)).json();
    expect(p2.items).toHaveLength(1);
    expect(p2.next_cursor).toBeNull();
    const forged = encodeCursor("2026-02-30T00:00:00Z", cu.id); // the shared cursor module: strict calendar
    await expectError(await list(as(t.users.ADMIN.token, t.id), `?cursor=${forged}`), 400, "Invalid request", [{ in: "query", path: "cursor" }]);
    const pending = await (await list(as(t.users.OWNER.token, t.id), "?status=pending")).json();
    expect(pending.items).toHaveLength(1);
    await expectError(await list(as(t.users.MANAGER.token, t.id)), 403, "Forbidden");
    await expectError(await list(as(a.users.OWNER.token, t.id)), 404, "Not found");
  });
});
