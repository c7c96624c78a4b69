// webhook-deliver (functions/webhook-deliver, shared/webhooks/worker.ts): fan-out, claims,
// Standard Webhooks signatures checked with the standardwebhooks package's verifier, the retry
// schedule on a controllable clock, Retry-After, 410, the 5-day disable, dead letter and manual
// retry, rotation with two signatures, DNS rebinding, timeouts, redirects, the body cap,
// exactly-once attempts with two workers racing, and no message content in any payload.
import { describe, expect } from "vitest";
import type postgres from "postgres";
import { SignJWT } from "jose";
import { Webhook } from "standardwebhooks";
import { createApp as createDeliver, type DeliverOptions } from "../../functions/webhook-deliver/app.ts";
import type { Deps } from "../../shared/runtime/deps.ts";
import { RETRY_DELAYS_SECONDS } from "../../shared/webhooks/schedule.ts";
import { test as fixtures } from "../support/fixtures.ts";
import { TEST_JWT_SECRET, testDeps } from "../support/harness.ts";
import { expectError } from "../support/security.ts";
import { createTenant, type Tenant } from "../support/tenancy.ts";
import { startReceiver, stubResolver, webhooksApi, type Receiver } from "./support.ts";

const CRON = "cron-secret-for-the-webhook-tests-0123456789";
let clock = new Date();
const advance = (seconds: number) => (clock = new Date(clock.getTime() + seconds * 1000));
/** What the stub resolver answers; tests change it. */
const dns: Record<string, string[]> = { "receiver.test": ["127.0.0.1"] };

/** The file's helpers, over its deps, superuser connection, receiver, API and first distributor. */
function helpers(deps: Deps, sql: postgres.Sql, rx: Receiver, api: ReturnType<typeof webhooksApi>, t: Tenant) {
  function deliverApp(o: DeliverOptions = {}) {
    return createDeliver(deps, { resolve: stubResolver(dns), random: () => 0.5, timeoutMs: 2_000, ...o });
  }
  async function pass(o: DeliverOptions = {}, app = deliverApp(o)) {
    const res = await app.request("http://localhost/functions/v1/webhook-deliver", { method: "POST", headers: { authorization: `Bearer ${CRON}` } });
    expect(res.status).toBe(200);
    return await res.json() as { claimed: number; delivered: number; failed: number };
  }

  async function endpoint(events = ["message.received"], tenant = t, path = "/hook") {
    const res = await api("POST", "/endpoints", tenant.users.OWNER.token, tenant.id, { url: `${rx.url.replace("127.0.0.1", "receiver.test")}${path}`, events });
    expect(res.status).toBe(201);
    return await res.json() as { id: string; secret: string };
  }
  async function outbox(tenant: Tenant, type: string, payload: Record<string, unknown>) {
    const [r] = await sql`insert into public.event_outbox (distributor_id, event_type, payload) values (${tenant.id}, ${type}, ${sql.json(payload as never)}) returning id`;
    return r.id as string;
  }
  const deliveryOf = async (endpointId: string) =>
    (await sql`select * from public.webhook_deliveries where endpoint_id = ${endpointId} order by created_at`);
  const attemptsOf = async (deliveryId: string) =>
    (await sql`select * from public.webhook_attempts where delivery_id = ${deliveryId} order by attempt_no`);

  return { deliverApp, pass, endpoint, outbox, deliveryOf, attemptsOf };
}

const test = fixtures
  // Deps on the controllable clock, allowing loopback receivers, with a cron secret.
  .extend("deps", { scope: "file" }, async ({}, { onCleanup }) => {
    const deps = await testDeps({ WEBHOOKS_ALLOW_LOOPBACK: "true", ENVIRONMENT: "test", CRON_SECRET: CRON }, { now: () => clock });
    onCleanup(() => deps.db.end());
    return deps;
  })
  /** Two distributors shared by the file's tests. */
  .extend("t", { scope: "file" }, async ({ deps, sql }) => await createTenant(deps, sql, "Deliver A"))
  .extend("other", { scope: "file" }, async ({ deps, sql }) => await createTenant(deps, sql, "Deliver B"))
  /** The receiving end of every endpoint (receiver.test resolves to it). */
  .extend("rx", { scope: "file" }, async ({}, { onCleanup }) => {
    const rx = await startReceiver();
    onCleanup(() => rx.close());
    return rx;
  })
  .extend("api", { scope: "file" }, async ({ deps }) => webhooksApi(deps, stubResolver(dns)))
  .extend("helpers", { scope: "file" }, async ({ deps, sql, rx, api, t }) => helpers(deps, sql, rx, api, t))
  .extend("deliverApp", { scope: "file" }, async ({ helpers: h }) => h.deliverApp)
  /** One pass of the worker; it must answer 200. */
  .extend("pass", { scope: "file" }, async ({ helpers: h }) => h.pass)
  /** A new endpoint at the receiver, subscribed to `events`. */
  .extend("endpoint", { scope: "file" }, async ({ helpers: h }) => h.endpoint)
  .extend("outbox", { scope: "file" }, async ({ helpers: h }) => h.outbox)
  .extend("deliveryOf", { scope: "file" }, async ({ helpers: h }) => h.deliveryOf)
  .extend("attemptsOf", { scope: "file" }, async ({ helpers: h }) => h.attemptsOf);

test.beforeEach(async ({ sql, rx }) => {
  clock = new Date();
  rx.received.length = 0;
  rx.fallback = { status: 200, body: "ok" };
  dns["receiver.test"] = ["127.0.0.1"];
  // Files run one after another on one database: earlier files' work is not ours to deliver.
  await sql`update public.webhook_deliveries set status = 'dead' where status = 'pending'`;
  await sql`update public.event_outbox set delivered_at = now() where delivered_at is null`;
  // Each test subscribes its own endpoints.
  await sql`update public.webhook_endpoints set enabled = false, disabled_reason = 'user' where enabled`;
});

describe("authorization", () => {
  test("only the scheduler: no token, a wrong secret, a user's JWT → 401; CRON_SECRET or a service-role JWT → 200", async ({ t, deliverApp }) => {
    const app = deliverApp();
    const call = (h: Record<string, string>) => app.request("http://localhost/functions/v1/webhook-deliver", { method: "POST", headers: h });
    await expectError(await call({}), 401, "Authentication required");
    await expectError(await call({ authorization: `Bearer ${CRON}x` }), 401, "Authentication required");
    await expectError(await call({ authorization: `Bearer ${t.users.OWNER.token}` }), 401, "Authentication required");
    const key = new TextEncoder().encode(TEST_JWT_SECRET);
    const anon = await new SignJWT({ role: "anon" }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("1h").sign(key);
    await expectError(await call({ authorization: `Bearer ${anon}` }), 401, "Authentication required");
    const forged = await new SignJWT({ role: "service_role" }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("1h")
      .sign(new TextEncoder().encode("another-secret-that-is-32-chars-long!!"));
    await expectError(await call({ authorization: `Bearer ${forged}` }), 401, "Authentication required");
    expect((await call({ authorization: `Bearer ${CRON}` })).status).toBe(200);
    const service = await new SignJWT({ role: "service_role" }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("1h").sign(key);
    expect((await call({ authorization: `Bearer ${service}` })).status).toBe(200);
  });
});

describe("delivery", () => {
  test("fans an event out to subscribed, enabled endpoints of its distributor only; signed per Standard Webhooks; ids only", async ({ t, other, rx, api, pass, endpoint, outbox, deliveryOf, attemptsOf }) => {
    const a = await endpoint(["message.received"]);
    const notSubscribed = await endpoint(["order.created"]);
    const disabled = await endpoint(["message.received"]);
    await api("PATCH", `/endpoints/${disabled.id}`, t.users.OWNER.token, t.id, { enabled: false });
    const foreign = await endpoint(["message.received"], other);
    const canary = "CANARY-message-content-7f3a";
    const messageId = crypto.randomUUID();
    const eventId = await outbox(t, "message.received", {
      message_id: messageId, conversation_id: crypto.randomUUID(), message_type: "text", channel: "whatsapp",
      content: canary, preview: canary, customer_name: canary, phone: "+15551234567",
    });
    expect(await pass()).toEqual({ claimed: 1, delivered: 1, failed: 0 });
    expect(rx.received).toHaveLength(1);
    const got = rx.received[0];
    expect(got.path).toBe("/hook");
    expect(got.headers["content-type"]).toBe("application/json");
    // The package's own verifier accepts our signature (real clock: its tolerance is 5 minutes).
    const verified = new Webhook(a.secret).verify(got.body, got.headers) as { type: string; data: Record<string, unknown> };
    expect(verified.type).toBe("message.received");
    expect(verified.data).toEqual({ event_id: eventId, message_id: messageId, conversation_id: expect.any(String), message_type: "text", channel: "whatsapp" });
    expect(got.body).not.toContain(canary);
    expect(got.body).not.toContain("5551234567");
    expect(() => new Webhook(notSubscribed.secret).verify(got.body, got.headers)).toThrow();
    const [d] = await deliveryOf(a.id);
    expect(d).toMatchObject({ status: "delivered", attempt_count: 1, last_status_code: 200, event_id: eventId });
    expect(got.headers["webhook-id"]).toBe(d.id);
    expect(await deliveryOf(notSubscribed.id)).toHaveLength(0);
    expect(await deliveryOf(disabled.id)).toHaveLength(0);
    expect(await deliveryOf(foreign.id)).toHaveLength(0);
    const [attempt] = await attemptsOf(d.id);
    expect(attempt).toMatchObject({ attempt_no: 1, status_code: 200, error_class: null, response_excerpt: "ok" });
    // Nothing more to do: a second pass claims nothing and sends nothing.
    expect(await pass()).toEqual({ claimed: 0, delivered: 0, failed: 0 });
    expect(rx.received).toHaveLength(1);
    // The history through the API.
    const page = await (await api("GET", `/endpoints/${a.id}/deliveries`, t.users.ADMIN.token, t.id)).json();
    expect(page.items).toEqual([expect.objectContaining({ id: d.id, status: "delivered", attempts: [expect.objectContaining({ attempt_no: 1, status_code: 200 })] })]);
    expect(JSON.stringify(page)).not.toContain(canary);
  });

  test("the schedule on a controllable clock: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, then dead letter; manual retry delivers", async ({ sql, t, other, rx, api, pass, endpoint, outbox, deliveryOf, attemptsOf }) => {
    const e = await endpoint(["order.created"]);
    rx.fallback = { status: 500, body: "boom" };
    await outbox(t, "order.created", { order_id: crypto.randomUUID() });
    expect(await pass()).toEqual({ claimed: 1, delivered: 0, failed: 1 });
    const [d] = await deliveryOf(e.id);
    for (const [i, delay] of RETRY_DELAYS_SECONDS.entries()) {
      const [row] = await sql`select * from public.webhook_deliveries where id = ${d.id}`;
      expect(row.status).toBe("pending");
      expect(row.next_attempt_at.getTime() - clock.getTime()).toBe(delay * 1000); // random 0.5: no jitter
      advance(delay - 1);
      expect((await pass()).claimed).toBe(0); // not yet due
      advance(1);
      expect(await pass()).toEqual({ claimed: 1, delivered: 0, failed: 1 });
      expect(rx.received).toHaveLength(i + 2);
    }
    const [dead] = await sql`select * from public.webhook_deliveries where id = ${d.id}`;
    expect(dead).toMatchObject({ status: "dead", attempt_count: 8, last_status_code: 500, last_error: "http_error" });
    expect((await attemptsOf(d.id)).map((a) => a.attempt_no)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    advance(365 * 24 * 3600);
    expect((await pass()).claimed).toBe(0);
    // Manual retry (webhooks.manage): a fresh schedule; delivered now.
    await expectError(await api("POST", `/deliveries/${d.id}/retry`, t.users.MANAGER.token, t.id), 403, "Forbidden");
    await expectError(await api("POST", `/deliveries/${d.id}/retry`, other.users.OWNER.token, other.id), 404, "Not found");
    const r = await api("POST", `/deliveries/${d.id}/retry`, t.users.ADMIN.token, t.id);
    expect(r.status).toBe(202);
    expect(await r.json()).toEqual({ id: d.id, status: "pending" });
    await expectError(await api("POST", `/deliveries/${d.id}/retry`, t.users.ADMIN.token, t.id), 409, "Conflict");
    rx.fallback = { status: 204 };
    expect(await pass()).toEqual({ claimed: 1, delivered: 1, failed: 0 });
    expect((await sql`select status, attempt_count from public.webhook_deliveries where id = ${d.id}`)[0]).toEqual({ status: "delivered", attempt_count: 9 });
    const page = await (await api("GET", `/endpoints/${e.id}/deliveries?status=dead`, t.users.OWNER.token, t.id)).json();
    expect(page.items).toEqual([]);
  });

  test("jitter stays within ±20 %", async ({ sql, t, rx, pass, endpoint, outbox, deliveryOf }) => {
    const e = await endpoint(["order.created"]);
    rx.fallback = { status: 503 };
    await outbox(t, "order.created", { order_id: crypto.randomUUID() });
    await pass({ random: () => 0 });
    const [d] = await deliveryOf(e.id);
    expect(d.next_attempt_at.getTime() - clock.getTime()).toBe(4_000);
    await sql`update public.webhook_deliveries set next_attempt_at = ${clock} where id = ${d.id}`;
    await pass({ random: () => 0.999999 });
    const [d2] = await deliveryOf(e.id);
    expect(d2.next_attempt_at.getTime() - clock.getTime()).toBeCloseTo(360_000, -2);
  });

  test("429 with Retry-After is honoured within the schedule's bounds", async ({ t, rx, pass, endpoint, outbox, deliveryOf }) => {
    const e = await endpoint(["order.created"]);
    rx.respond({ status: 429, headers: { "retry-after": "120" } });
    await outbox(t, "order.created", { order_id: crypto.randomUUID() });
    await pass();
    const [d] = await deliveryOf(e.id);
    expect(d.next_attempt_at.getTime() - clock.getTime()).toBe(120_000);
    rx.respond({ status: 429, headers: { "retry-after": "999999" } });
    advance(120);
    await pass();
    const [d2] = await deliveryOf(e.id);
    expect(d2.next_attempt_at.getTime() - clock.getTime()).toBe(36_000_000); // capped at 10 h
  });

  test("410 Gone disables the endpoint at once and leaves a notice for its owners", async ({ sql, t, rx, pass, endpoint, outbox, deliveryOf }) => {
    const e = await endpoint(["order.created"]);
    rx.respond({ status: 410 });
    await outbox(t, "order.created", { order_id: crypto.randomUUID() });
    expect(await pass()).toEqual({ claimed: 1, delivered: 0, failed: 1 });
    const [ep] = await sql`select enabled, disabled_reason from public.webhook_endpoints where id = ${e.id}`;
    expect(ep).toEqual({ enabled: false, disabled_reason: "gone" });
    expect((await deliveryOf(e.id))[0]).toMatchObject({ status: "dead", last_status_code: 410, last_error: "gone" });
    const inc = await sql`select * from public.security_incidents where distributor_id = ${t.id} and type = 'webhook_endpoint_disabled' and details ->> 'endpoint_id' = ${e.id}`;
    expect(inc).toHaveLength(1);
    expect(inc[0].details).toMatchObject({ reason: "gone", status_code: 410 });
    // Further events are not even fanned out to it.
    await outbox(t, "order.created", { order_id: crypto.randomUUID() });
    expect((await pass()).claimed).toBe(0);
  });

  test("an endpoint that has only failed for 5 days is disabled, with a notice", async ({ sql, t, rx, pass, endpoint, outbox }) => {
    const e = await endpoint(["order.created"]);
    rx.fallback = { status: 500 };
    await outbox(t, "order.created", { order_id: crypto.randomUUID() });
    await pass();
    const [ep1] = await sql`select enabled, failing_since from public.webhook_endpoints where id = ${e.id}`;
    expect(ep1.enabled).toBe(true);
    expect(ep1.failing_since.getTime()).toBe(clock.getTime());
    // Another event after 5 days minus a second: still enabled.
    advance(5 * 24 * 3600 - 1);
    await outbox(t, "order.created", { order_id: crypto.randomUUID() });
    await sql`update public.webhook_deliveries set status = 'dead' where endpoint_id = ${e.id}`;
    await pass();
    expect((await sql`select enabled from public.webhook_endpoints where id = ${e.id}`)[0].enabled).toBe(true);
    advance(1);
    await outbox(t, "order.created", { order_id: crypto.randomUUID() });
    await sql`update public.webhook_deliveries set status = 'dead' where endpoint_id = ${e.id} and attempt_count > 0`;
    await pass();
    expect((await sql`select enabled, disabled_reason from public.webhook_endpoints where id = ${e.id}`)[0])
      .toEqual({ enabled: false, disabled_reason: "failing" });
    const inc = await sql`select * from public.security_incidents where type = 'webhook_endpoint_disabled' and details ->> 'endpoint_id' = ${e.id}`;
    expect(inc).toHaveLength(1);
    expect(inc[0]).toMatchObject({ distributor_id: t.id, severity: "medium" });
  });

  test("a success in between resets the failure history", async ({ sql, t, rx, pass, endpoint, outbox }) => {
    const e = await endpoint(["order.created"]);
    rx.respond({ status: 500 });
    await outbox(t, "order.created", { order_id: crypto.randomUUID() });
    await pass();
    advance(5);
    await pass(); // 200
    expect((await sql`select failing_since from public.webhook_endpoints where id = ${e.id}`)[0].failing_since).toBeNull();
  });

  test("rotate-secret: both secrets sign for 24 h (several v1, signatures), then only the new one", async ({ t, rx, api, pass, endpoint, outbox }) => {
    const e = await endpoint(["order.created"]);
    const rot = await (await api("POST", `/endpoints/${e.id}/rotate-secret`, t.users.OWNER.token, t.id)).json();
    await outbox(t, "order.created", { order_id: crypto.randomUUID() });
    await pass();
    const got = rx.received[0];
    expect(got.headers["webhook-signature"].split(" ")).toHaveLength(2);
    expect(got.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/=]+ v1,[A-Za-z0-9+/=]+$/);
    expect(new Webhook(rot.secret).verify(got.body, got.headers)).toBeTruthy();
    expect(new Webhook(e.secret).verify(got.body, got.headers)).toBeTruthy();
    // 24 h later the old secret no longer signs (the controlled clock moves; the verifier's does not).
    advance(24 * 3600 + 1);
    await outbox(t, "order.created", { order_id: crypto.randomUUID() });
    await pass();
    const later = rx.received[1];
    expect(later.headers["webhook-signature"].split(" ")).toHaveLength(1);
    const ts = Number(later.headers["webhook-timestamp"]);
    expect(ts).toBe(Math.floor(clock.getTime() / 1000));
    const sign = (s: string) => new Webhook(s).sign(later.headers["webhook-id"], new Date(ts * 1000), later.body);
    expect(later.headers["webhook-signature"]).toBe(sign(rot.secret));
    expect(later.headers["webhook-signature"]).not.toBe(sign(e.secret));
  });

  test("POST /endpoints/:id/test is delivered as webhook.test", async ({ t, rx, api, pass, endpoint }) => {
    const e = await endpoint(["order.created"]);
    const { delivery_id } = await (await api("POST", `/endpoints/${e.id}/test`, t.users.OWNER.token, t.id)).json();
    expect(await pass()).toEqual({ claimed: 1, delivered: 1, failed: 0 });
    const body = new Webhook(e.secret).verify(rx.received[0].body, rx.received[0].headers) as { type: string; data: Record<string, string> };
    expect(body.type).toBe("webhook.test");
    expect(body.data.endpoint_id).toBe(e.id);
    expect(rx.received[0].headers["webhook-id"]).toBe(delivery_id);
  });
});

describe("what a receiver cannot make us do", () => {
  test("DNS rebinding: the host resolves to a private address at attempt time → refused, nothing sent", async ({ t, rx, pass, endpoint, outbox, deliveryOf, attemptsOf }) => {
    const e = await endpoint(["order.created"]);
    dns["receiver.test"] = ["10.0.0.8"];
    await outbox(t, "order.created", { order_id: crypto.randomUUID() });
    expect(await pass()).toEqual({ claimed: 1, delivered: 0, failed: 1 });
    expect(rx.received).toHaveLength(0);
    const [d] = await deliveryOf(e.id);
    expect((await attemptsOf(d.id))[0]).toMatchObject({ status_code: null, error_class: "address_refused" });
    dns["receiver.test"] = ["127.0.0.1", "169.254.169.254"]; // any private address refuses the host
    advance(5);
    await pass();
    expect(rx.received).toHaveLength(0);
  });

  test("redirects are not followed; a hanging receiver times out; bodies are read up to 64 KB and kept to 1 KB; echoes are not kept", async ({ t, rx, pass, endpoint, outbox, deliveryOf, attemptsOf }) => {
    const e = await endpoint(["order.created"]);
    rx.respond({ status: 302, headers: { location: `${rx.url}/elsewhere` } });
    await outbox(t, "order.created", { order_id: crypto.randomUUID() });
    await pass();
    expect(rx.received.map((r) => r.path)).toEqual(["/hook"]);
    const [d] = await deliveryOf(e.id);
    expect((await attemptsOf(d.id))[0]).toMatchObject({ status_code: 302, error_class: "redirect" });

    rx.respond({ hang: true });
    advance(5);
    await pass({ timeoutMs: 300 });
    expect((await attemptsOf(d.id))[1]).toMatchObject({ status_code: null, error_class: "timeout" });

    rx.respond({ status: 500, body: "x".repeat(1_000_000) });
    advance(300);
    await pass();
    const third = (await attemptsOf(d.id))[2];
    expect(third.response_excerpt).toHaveLength(1024);

    rx.respond({ status: 500, body: `you sent ${d.event_id}` });
    advance(1800);
    await pass();
    expect((await attemptsOf(d.id))[3]).toMatchObject({ status_code: 500, response_excerpt: null });
  });
});

describe("exactly once", () => {
  test("two workers racing never make the same attempt twice", async ({ sql, t, rx, deliverApp, pass, endpoint, outbox }) => {
    const e = await endpoint(["customer.updated"]);
    const n = 12;
    for (let i = 0; i < n; i++) await outbox(t, "customer.updated", { customer_id: crypto.randomUUID() });
    await pass({ batchSize: 100 }); // fan-out and a first round of attempts
    expect(rx.received).toHaveLength(n);
    // Now a fresh round, raced: re-queue every delivery as due and let two workers compete.
    rx.received.length = 0;
    await sql`update public.webhook_deliveries set status = 'pending', next_attempt_at = ${clock} where endpoint_id = ${e.id}`;
    const [a, b] = await Promise.all([pass({ batchSize: 5 }, deliverApp({ batchSize: 5 })), pass({ batchSize: 5 }, deliverApp({ batchSize: 5 })),]);
    const [c, d] = await Promise.all([pass({ batchSize: 5 }), pass({ batchSize: 5 })]);
    const [e2, f] = await Promise.all([pass({ batchSize: 5 }), pass({ batchSize: 5 })]);
    expect(a.claimed + b.claimed + c.claimed + d.claimed + e2.claimed + f.claimed).toBe(n);
    expect(rx.received).toHaveLength(n);
    expect(new Set(rx.received.map((r) => r.headers["webhook-id"])).size).toBe(n);
    const rows = await sql`select delivery_id, attempt_no from public.webhook_attempts where endpoint_id = ${e.id} order by delivery_id, attempt_no`;
    expect(rows).toHaveLength(2 * n);
    expect(rows.every((r, i) => r.attempt_no === (i % 2) + 1)).toBe(true);
  });
});
