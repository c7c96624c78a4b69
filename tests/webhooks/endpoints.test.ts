// POST/GET/PATCH/DELETE /endpoints, rotate-secret, test (functions/webhooks/routes/endpoints.ts),
// the SSRF checks (shared/webhooks/ssrf.ts) through an injected resolver, and the start-up rule
// of WEBHOOKS_ALLOW_LOOPBACK.
import { describe, expect } from "vitest";
import { createApp } from "../../functions/webhooks/app.ts";
import { ConfigError } from "../../shared/config/index.ts";
import { openFor } from "../../shared/tenancy/index.ts";
import { test as fixtures } from "../support/fixtures.ts";
import { testDeps } from "../support/harness.ts";
import { authenticationCases, expectError } from "../support/security.ts";
import { createTenant, type Tenant } from "../support/tenancy.ts";
import { webhooksApi } from "./support.ts";

type Api = ReturnType<typeof webhooksApi>;

const test = fixtures
  // Deps that allow loopback receivers (the test environment).
  .extend("deps", { scope: "file" }, async ({}, { onCleanup }) => {
    const deps = await testDeps({ WEBHOOKS_ALLOW_LOOPBACK: "true", ENVIRONMENT: "test" });
    onCleanup(() => deps.db.end());
    return deps;
  })
  /** Deps with the SSRF rules in full (no loopback). */
  .extend("strictDeps", { scope: "file" }, async ({}, { onCleanup }) => {
    const deps = await testDeps({ ENVIRONMENT: "test" });
    onCleanup(() => deps.db.end());
    return deps;
  })
  /** Two distributors shared by the file's tests. */
  .extend("t", { scope: "file" }, async ({ deps, sql }) => await createTenant(deps, sql, "Webhooks A"))
  .extend("other", { scope: "file" }, async ({ deps, sql }) => await createTenant(deps, sql, "Webhooks B"))
  .extend("api", { scope: "file" }, async ({ deps }) => webhooksApi(deps))
  .extend("strictApi", { scope: "file" }, async ({ strictDeps }) => webhooksApi(strictDeps))
  .extend("create", { scope: "file" }, async ({ strictApi, t }) =>
    (url = "https://hooks.example.com/in", events = ["message.received"], a: Api = strictApi, tenant = () => t) =>
      a("POST", "/endpoints", tenant().users.OWNER.token, tenant().id, { url, events }));

// authenticationCases registers plain `it`s: they reach the file's fixtures through this hook.
const forAuthCases = {} as { strictApi: Api; t: Tenant };
test.beforeAll(({ strictApi, t }) => {
  Object.assign(forAuthCases, { strictApi, t });
});

describe("POST /endpoints", () => {
  test("registers an endpoint: 201, whsec_ secret shown once and stored sealed, audited", async ({ sql, deps, t, strictApi, create }) => {
    const res = await create("https://hooks.example.com/in?x=1", ["message.received", "order.created"]);
    expect(res.status).toBe(201);
    const body = await res.json();
    expect(body).toEqual({
      id: expect.any(String), url: "https://hooks.example.com/in?x=1", events: ["message.received", "order.created"], description: null,
      enabled: true, disabled_reason: null, previous_secret_expires_at: null, created_at: expect.any(String), updated_at: expect.any(String),
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
    });
    expect(res.headers.get("cache-control")).toBe("no-store");
    const [row] = await sql`select * from public.webhook_endpoints where id = ${body.id}`;
    expect(row).toMatchObject({ distributor_id: t.id, created_by: t.users.OWNER.id, enabled: true });
    expect(JSON.stringify(row)).not.toContain(body.secret.slice(6));
    const keys = await deps.tenantKeys.get(t.id);
    expect(await openFor(keys, "webhook_endpoints", body.id, { encryptedValue: row.secret_encrypted, iv: row.secret_iv, keyVersion: row.secret_key_version }))
      .toBe(body.secret);
    const audit = await sql`select * from public.data_access_audit where distributor_id = ${t.id} and action = 'webhook.endpoint.create' and record_id = ${body.id}`;
    expect(audit).toHaveLength(1);
    expect(audit[0].details).toEqual({ events: ["message.received", "order.created"] });
    // Never again: the list has no secret.
    const list = await (await strictApi("GET", "/endpoints", t.users.ADMIN.token, t.id)).json();
    expect(JSON.stringify(list)).not.toContain(body.secret);
    expect(list.items.map((e: { id: string }) => e.id)).toContain(body.id);
  });

  // ≥ 15 address forms, every one refused with 400 naming `url`, and nothing stored.
  const refused: [string, string, string][] = [
    ["loopback", "https://127.0.0.1/", "url_address"],
    ["decimal IPv4", "https://2130706433/", "url_address"],
    ["octal IPv4", "https://0177.0.0.1/", "url_address"],
    ["hexadecimal IPv4", "https://0x7f.0.0.1/", "url_address"],
    ["short IPv4", "https://127.1/", "url_address"],
    ["IPv4-mapped IPv6 loopback", "https://[::ffff:127.0.0.1]/", "url_address"],
    ["IPv4-mapped IPv6 metadata", "https://[::ffff:a9fe:a9fe]/", "url_address"],
    ["localhost.", "https://localhost./", "url_address"],
    ["sub.localhost", "https://api.localhost/", "url_address"],
    ["0.0.0.0", "https://0.0.0.0/", "url_address"],
    ["::", "https://[::]/", "url_address"],
    ["::1", "https://[::1]/", "url_address"],
    ["fd00::/8", "https://[fd00::1]/", "url_address"],
    ["fe80:: link-local", "https://[fe80::1]/", "url_address"],
    ["100.64/10 CGNAT", "https://100.64.0.1/", "url_address"],
    ["169.254.169.254", "https://169.254.169.254/latest/meta-data/", "url_address"],
    ["10/8", "https://10.0.0.1/", "url_address"],
    ["172.16/12", "https://172.16.5.4/", "url_address"],
    ["192.168/16", "https://192.168.1.1/", "url_address"],
    ["multicast", "https://224.0.0.1/", "url_address"],
    ["broadcast", "https://255.255.255.255/", "url_address"],
    ["NAT64 of 10.0.0.1", "https://[64:ff9b::a00:1]/", "url_address"],
    ["6to4 of 127.0.0.1", "https://[2002:7f00:1::]/", "url_address"],
    ["a name resolving to a private address", "https://internal.example.com/", "url_address"],
    ["a name resolving to the metadata address", "https://metadata.example.com/", "url_address"],
    ["a name resolving to a public then a private address", "https://mixed.example.com/", "url_address"],
    ["a name resolving to IPv4-mapped IPv6 of a private address", "https://mapped.example.com/", "url_address"],
    ["a name resolving to a unique-local IPv6", "https://ula.example.com/", "url_address"],
    ["an unknown name", "https://nowhere.example.com/", "url_unresolvable"],
    ["plain http", "http://hooks.example.com/", "url_scheme"],
    ["another scheme", "ftp://hooks.example.com/", "url_scheme"],
    ["credentials", "https://user:pw@hooks.example.com/", "url_invalid_url"],
    ["not a URL", "hooks.example.com", "url_invalid_url"],
  ];
  test.for(refused)("refuses %s (%s) → 400, nothing stored", async ([_name, url, code], { sql, t, create }) => {
    const before = await sql`select count(*)::int as n from public.webhook_endpoints where distributor_id = ${t.id}`;
    const res = await create(url);
    const body = await expectError(res, 400, "Invalid request");
    expect(body.issues).toEqual([{ in: "body", path: "url", code }]);
    const after = await sql`select count(*)::int as n from public.webhook_endpoints where distributor_id = ${t.id}`;
    expect(after[0].n).toBe(before[0].n);
  });

  test.for([
    ["a public IPv4 literal", "https://93.184.216.34/hook"],
    ["a public IPv6 literal", "https://[2606:2800:220:1:248:1893:25c8:1946]/hook"],
    ["a name resolving to public IPv6", "https://v6.example.com/hook"],
  ])("accepts %s", async ([_n, url], { create }) => {
    expect((await create(url)).status).toBe(201);
  });

  test("with WEBHOOKS_ALLOW_LOOPBACK: http and loopback are accepted, private ranges still refused", async ({ api, create }) => {
    expect((await create("http://127.0.0.1:9/hook", ["webhook.test"], api)).status).toBe(201);
    expect((await create("http://localhost:9/hook", ["webhook.test"], api)).status).toBe(201);
    await expectError(await create("http://10.0.0.1/hook", ["webhook.test"], api), 400, "Invalid request");
    await expectError(await create("http://169.254.169.254/", ["webhook.test"], api), 400, "Invalid request");
  });

  test("validation: unknown event, repeated events, none, unknown field → 400", async ({ t, strictApi }) => {
    for (const body of [
      { url: "https://hooks.example.com/", events: ["message.deleted"] },
      { url: "https://hooks.example.com/", events: ["order.created", "order.created"] },
      { url: "https://hooks.example.com/", events: [] },
      { url: "https://hooks.example.com/", events: ["order.created"], secret: "mine" },
      { events: ["order.created"] },
    ]) {
      await expectError(await strictApi("POST", "/endpoints", t.users.OWNER.token, t.id, body), 400, "Invalid request");
    }
  });

  test("WEBHOOKS_ALLOW_LOOPBACK is refused at start-up when ENVIRONMENT is production", async () => {
    const prod = await testDeps({ WEBHOOKS_ALLOW_LOOPBACK: "true", ENVIRONMENT: "production" });
    try {
      expect(() => createApp(prod)).toThrow(ConfigError);
      expect(() => createApp(prod)).toThrow(/WEBHOOKS_ALLOW_LOOPBACK/);
    } finally {
      await prod.db.end();
    }
  });
});

describe("permissions and tenancy", () => {
  test("MANAGER and OPERATOR → 403; ADMIN may", async ({ t, strictApi }) => {
    for (const r of ["MANAGER", "OPERATOR"] as const) {
      await expectError(await strictApi("POST", "/endpoints", t.users[r].token, t.id, { url: "https://hooks.example.com/", events: ["order.created"] }), 403, "Forbidden");
      await expectError(await strictApi("GET", "/endpoints", t.users[r].token, t.id), 403, "Forbidden");
    }
    expect((await strictApi("POST", "/endpoints", t.users.ADMIN.token, t.id, { url: "https://hooks.example.com/a", events: ["order.created"] })).status).toBe(201);
  });

  test("another tenant's endpoint ids → 404 on every route, nothing changed", async ({ sql, t, other, strictApi, create }) => {
    const mine = await (await create()).json();
    const tk = other.users.OWNER.token;
    await expectError(await strictApi("PATCH", `/endpoints/${mine.id}`, tk, other.id, { enabled: false }), 404, "Not found");
    await expectError(await strictApi("DELETE", `/endpoints/${mine.id}`, tk, other.id), 404, "Not found");
    await expectError(await strictApi("POST", `/endpoints/${mine.id}/rotate-secret`, tk, other.id), 404, "Not found");
    await expectError(await strictApi("POST", `/endpoints/${mine.id}/test`, tk, other.id), 404, "Not found");
    await expectError(await strictApi("GET", `/endpoints/${mine.id}/deliveries`, tk, other.id), 404, "Not found");
    // The other tenant's id in the header, without membership: 404.
    await expectError(await strictApi("GET", "/endpoints", t.users.OWNER.token, other.id), 404, "Not found");
    const list = await (await strictApi("GET", "/endpoints", tk, other.id)).json();
    expect(list.items.map((e: { id: string }) => e.id)).not.toContain(mine.id);
    const [row] = await sql`select enabled from public.webhook_endpoints where id = ${mine.id}`;
    expect(row.enabled).toBe(true);
    const audit = await sql`select 1 from public.data_access_audit where record_id = ${mine.id} and distributor_id = ${other.id}`;
    expect(audit).toHaveLength(0);
  });

  const someId = "00000000-0000-4000-8000-000000000001";
  const calls: [string, string, string, unknown?][] = [
    ["POST /endpoints", "POST", "/endpoints", { url: "https://hooks.example.com/", events: ["order.created"] }],
    ["GET /endpoints", "GET", "/endpoints"],
    ["PATCH /endpoints/:id", "PATCH", `/endpoints/${someId}`, { enabled: false }],
    ["DELETE /endpoints/:id", "DELETE", `/endpoints/${someId}`],
    ["POST /endpoints/:id/rotate-secret", "POST", `/endpoints/${someId}/rotate-secret`],
    ["POST /endpoints/:id/test", "POST", `/endpoints/${someId}/test`],
    ["GET /endpoints/:id/deliveries", "GET", `/endpoints/${someId}/deliveries`],
    ["POST /deliveries/:id/retry", "POST", `/deliveries/${someId}/retry`],
  ];
  for (const [name, method, path, body] of calls) {
    authenticationCases(name, (h) => forAuthCases.strictApi(method, path, null, forAuthCases.t.id, body, h));
    test(`${name}: a user of no distributor → 404`, async ({ t, other, strictApi }) => {
      await expectError(await strictApi(method, path, other.users.OPERATOR.token, t.id, body), 404, "Not found");
    });
  }
});

describe("PATCH, DELETE, rotate-secret, test", () => {
  test("PATCH changes url (re-checked), events, enabled; disabling says 'user', re-enabling clears it", async ({ sql, t, strictApi, create }) => {
    const e = await (await create()).json();
    await expectError(await strictApi("PATCH", `/endpoints/${e.id}`, t.users.OWNER.token, t.id, { url: "https://10.0.0.1/" }), 400, "Invalid request");
    await expectError(await strictApi("PATCH", `/endpoints/${e.id}`, t.users.OWNER.token, t.id, {}), 400, "Invalid request");
    let res = await strictApi("PATCH", `/endpoints/${e.id}`, t.users.OWNER.token, t.id, { url: "https://v6.example.com/x", events: ["order.confirmed"], enabled: false });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ url: "https://v6.example.com/x", events: ["order.confirmed"], enabled: false, disabled_reason: "user" });
    await sql`update public.webhook_endpoints set failing_since = now() where id = ${e.id}`;
    res = await strictApi("PATCH", `/endpoints/${e.id}`, t.users.OWNER.token, t.id, { enabled: true });
    expect(await res.json()).toMatchObject({ enabled: true, disabled_reason: null });
    const [row] = await sql`select failing_since from public.webhook_endpoints where id = ${e.id}`;
    expect(row.failing_since).toBeNull();
  });

  test("DELETE removes it (and answers 404 the second time)", async ({ sql, t, strictApi, create }) => {
    const e = await (await create()).json();
    const res = await strictApi("DELETE", `/endpoints/${e.id}`, t.users.ADMIN.token, t.id);
    expect(await res.json()).toEqual({ id: e.id, deleted: true });
    expect(await sql`select 1 from public.webhook_endpoints where id = ${e.id}`).toHaveLength(0);
    await expectError(await strictApi("DELETE", `/endpoints/${e.id}`, t.users.ADMIN.token, t.id), 404, "Not found");
  });

  test("rotate-secret: a new secret, the old one kept sealed as previous for 24 h", async ({ sql, deps, t, strictApi, create }) => {
    const e = await (await create()).json();
    const res = await strictApi("POST", `/endpoints/${e.id}/rotate-secret`, t.users.OWNER.token, t.id);
    expect(res.status).toBe(200);
    const r = await res.json();
    expect(r.secret).toMatch(/^whsec_/);
    expect(r.secret).not.toBe(e.secret);
    expect(Date.parse(r.previous_secret_expires_at) - Date.now()).toBeGreaterThan(23.9 * 3600 * 1000);
    const [row] = await sql`select * from public.webhook_endpoints where id = ${e.id}`;
    const keys = await deps.tenantKeys.get(t.id);
    const open = (enc: string, iv: string, v: number) => openFor(keys, "webhook_endpoints", e.id, { encryptedValue: enc, iv, keyVersion: v });
    expect(await open(row.secret_encrypted, row.secret_iv, row.secret_key_version)).toBe(r.secret);
    expect(await open(row.previous_secret_encrypted, row.previous_secret_iv, row.previous_secret_key_version)).toBe(e.secret);
    const list = await (await strictApi("GET", "/endpoints", t.users.OWNER.token, t.id)).json();
    expect(list.items.find((x: { id: string }) => x.id === e.id).previous_secret_expires_at).toBe(r.previous_secret_expires_at);
  });

  test("test queues a webhook.test delivery (ids only); a disabled endpoint → 409", async ({ sql, t, strictApi, create }) => {
    const e = await (await create()).json();
    const res = await strictApi("POST", `/endpoints/${e.id}/test`, t.users.OWNER.token, t.id);
    expect(res.status).toBe(202);
    const { delivery_id } = await res.json();
    const [d] = await sql`select * from public.webhook_deliveries where id = ${delivery_id}`;
    expect(d).toMatchObject({ endpoint_id: e.id, distributor_id: t.id, event_type: "webhook.test", status: "pending", attempt_count: 0 });
    expect(d.payload).toEqual({ event_id: d.event_id, endpoint_id: e.id });
    await strictApi("PATCH", `/endpoints/${e.id}`, t.users.OWNER.token, t.id, { enabled: false });
    await expectError(await strictApi("POST", `/endpoints/${e.id}/test`, t.users.OWNER.token, t.id), 409, "Conflict");
  });
});
