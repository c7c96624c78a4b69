// Who may call what, for every route of the messages function: the role × permission matrix,
// the tenant (x-distributor-id, other distributors' ids), authentication, and the order of
// answers 401 → 404 (not a member) → 403 (no permission) → 400 (input).
import { describe, expect } from "vitest";
import { can, ROLES, type Permission, type Role } from "../../shared/tenancy/index.ts";
import { newUser } from "../support/harness.ts";
import { BASE, test, type Api, type App, type Arrange, type Opts, type World } from "../support/messages.ts";
import { authenticationCases, expectError } from "../support/security.ts";

interface Ctx { api: Api; arrange: Arrange }

/** One entry per route, read by the matrix, tenant and authentication suites. */
interface RouteCase {
  name: string;
  method: string;
  permission: Permission;
  ok: number;
  /** Export needs aal2 (REQUIRE_MFA_FOR_ADMIN_ACTIONS); the matrix then uses MFA tokens. */
  mfa?: boolean;
  send: (x: Ctx, w: World, token: string | null, distributor: string | null, o?: Opts) => Promise<Response>;
  /** The same route with an invalid request, and what a permitted caller gets for it. */
  invalid: (x: Ctx, w: World, token: string, distributor: string) => Promise<Response>;
  invalidStatus: number;
  /** A raw request for the authentication suite. */
  path: (w: World) => string;
  body?: (w: World) => unknown;
}

const ROUTES: RouteCase[] = [
  {
    name: "GET /conversations", method: "GET", permission: "messages.read", ok: 200,
    path: () => "/conversations",
    send: ({ api }, w, tk, d, o) => api("GET", "/conversations", tk, d, o),
    invalid: ({ api }, w, tk, d) => api("GET", "/conversations?limit=0", tk, d), invalidStatus: 400,
  },
  {
    name: "GET /conversations/:id/messages", method: "GET", permission: "messages.read", ok: 200,
    path: (w) => `/conversations/${w.conversationId}/messages`,
    send: ({ api }, w, tk, d, o) => api("GET", `/conversations/${w.conversationId}/messages`, tk, d, o),
    invalid: ({ api }, w, tk, d) => api("GET", `/conversations/${w.conversationId}/messages?limit=101`, tk, d), invalidStatus: 400,
  },
  {
    name: "POST /", method: "POST", permission: "messages.write", ok: 201,
    path: () => "", body: (w) => ({ conversation_id: w.webConversationId, content: "hi" }),
    send: ({ api }, w, tk, d, o) => api("POST", "", tk, d, { body: { conversation_id: w.webConversationId, content: "matrix hello" }, ...o }),
    invalid: ({ api }, w, tk, d) => api("POST", "", tk, d, { body: { conversation_id: w.webConversationId, content: "   " } }), invalidStatus: 400,
  },
  {
    name: "DELETE /:messageId", method: "DELETE", permission: "messages.delete", ok: 200,
    path: (w) => `/${w.messageId}`,
    send: async ({ api, arrange }, w, tk, d, o) => api("DELETE", `/${await arrange.addMessage(w.t, w.conversationId)}`, tk, d, o),
    invalid: ({ api }, w, tk, d) => api("DELETE", "/not-a-uuid", tk, d), invalidStatus: 404,
  },
  {
    name: "GET /customers", method: "GET", permission: "customers.read", ok: 200,
    path: () => "/customers",
    send: ({ api }, w, tk, d, o) => api("GET", "/customers", tk, d, o),
    invalid: ({ api }, w, tk, d) => api("GET", "/customers?cursor=!!!", tk, d), invalidStatus: 400,
  },
  {
    name: "GET /customers/:id", method: "GET", permission: "customers.read", ok: 200,
    path: (w) => `/customers/${w.customerId}`,
    send: ({ api }, w, tk, d, o) => api("GET", `/customers/${w.customerId}`, tk, d, o),
    invalid: ({ api }, w, tk, d) => api("GET", "/customers/nope", tk, d), invalidStatus: 404,
  },
  {
    name: "PATCH /customers/:id", method: "PATCH", permission: "customers.write", ok: 200,
    path: (w) => `/customers/${w.customerId}`, body: () => ({ tags: ["vip"] }),
    send: ({ api }, w, tk, d, o) => api("PATCH", `/customers/${w.customerId}`, tk, d, { body: { tags: ["vip"] }, ...o }),
    invalid: ({ api }, w, tk, d) => api("PATCH", `/customers/${w.customerId}`, tk, d, { body: { email: "not-an-email" } }), invalidStatus: 400,
  },
  {
    name: "GET /customers/export", method: "GET", permission: "customers.export", ok: 200, mfa: true,
    path: () => "/customers/export?format=csv",
    send: ({ api }, w, tk, d, o) => api("GET", "/customers/export?format=csv", tk, d, o),
    invalid: ({ api }, w, tk, d) => api("GET", "/customers/export?format=xml", tk, d), invalidStatus: 400,
  },
  {
    name: "GET /orders", method: "GET", permission: "orders.read", ok: 200,
    path: () => "/orders",
    send: ({ api }, w, tk, d, o) => api("GET", "/orders", tk, d, o),
    invalid: ({ api }, w, tk, d) => api("GET", "/orders?status=bogus", tk, d), invalidStatus: 400,
  },
  {
    name: "POST /orders", method: "POST", permission: "orders.create", ok: 201,
    path: () => "/orders", body: (w) => ({ customer_id: w.customerId, items: [{ sku: "A", quantity: 1 }] }),
    send: ({ api }, w, tk, d, o) => api("POST", "/orders", tk, d, { body: { customer_id: w.customerId, items: [{ sku: "A", quantity: 1 }] }, ...o }),
    invalid: ({ api }, w, tk, d) => api("POST", "/orders", tk, d, { body: { customer_id: w.customerId, items: [] } }), invalidStatus: 400,
  },
  {
    name: "POST /orders/:id/confirm", method: "POST", permission: "orders.confirm", ok: 200,
    path: (w) => `/orders/${w.orderId}/confirm`,
    send: async ({ api, arrange }, w, tk, d, o) => api("POST", `/orders/${await arrange.addOrder(w.t, w.customerId)}/confirm`, tk, d, o),
    invalid: ({ api }, w, tk, d) => api("POST", "/orders/nope/confirm", tk, d), invalidStatus: 404,
  },
];

const tokenFor = (w: World, role: Role, route: RouteCase) => (route.mfa ? w.t.users[role].mfaToken : w.t.users[role].token);

describe("role × permission matrix (from shared/tenancy)", () => {
  test("covers every permission the routes need", () => {
    expect(new Set(ROUTES.map((r) => r.permission))).toEqual(new Set([
      "messages.read", "messages.write", "messages.delete", "customers.read", "customers.write", "customers.export",
      "orders.read", "orders.create", "orders.confirm",
    ]));
  });

  for (const route of ROUTES) {
    for (const role of ROLES) {
      const allowed = can(role, route.permission);
      test(`${route.name} as ${role} → ${allowed ? route.ok : 403}`, async ({ api, arrange, A }) => {
        const res = await route.send({ api, arrange }, A, tokenFor(A, role, route), A.t.id);
        if (allowed) expect(res.status).toBe(route.ok);
        else await expectError(res, 403, "Forbidden");
      });
      test(`${route.name} as ${role}, invalid request → ${allowed ? route.invalidStatus : 403} (permission first)`, async ({ api, arrange, A }) => {
        const res = await route.invalid({ api, arrange }, A, tokenFor(A, role, route), A.t.id);
        if (allowed) expect(res.status).toBe(route.invalidStatus);
        else await expectError(res, 403, "Forbidden");
      });
    }
  }
});

describe("tenancy: the distributor header and other tenants", () => {
  for (const route of ROUTES) {
    test(`${route.name}: another distributor's id in x-distributor-id → 404`, async ({ api, arrange, A, B }) => {
      await expectError(await route.send({ api, arrange }, A, A.t.users.OWNER.mfaToken, B.t.id), 404, "Not found");
    });
    test(`${route.name}: unknown or malformed x-distributor-id → 404`, async ({ api, arrange, A }) => {
      await expectError(await route.send({ api, arrange }, A, A.t.users.OWNER.mfaToken, crypto.randomUUID()), 404, "Not found");
      await expectError(await route.send({ api, arrange }, A, A.t.users.OWNER.mfaToken, "acme"), 404, "Not found");
    });
    test(`${route.name}: missing x-distributor-id → 400 naming the header`, async ({ api, arrange, A }) => {
      await expectError(await route.send({ api, arrange }, A, A.t.users.OWNER.mfaToken, null), 400, "Invalid request", [
        { in: "header", path: "x-distributor-id", code: "missing" },
      ]);
    });
    test(`${route.name}: a user in no distributor → 404, even with an invalid request`, async ({ api, arrange, sql, A }) => {
      const outsider = await newUser(sql, { aal: "aal2" });
      await expectError(await route.send({ api, arrange }, A, outsider.token, A.t.id), 404, "Not found");
      await expectError(await route.invalid({ api, arrange }, A, outsider.token, A.t.id), 404, "Not found");
    });
  }

  test("ids of another distributor answer 404 under my own distributor, and nothing of theirs changes", async ({ api, sql, A, B }) => {
    const me = A.t.users.OWNER;
    const state = () => sql`select
        (select count(*)::int from public.messages where conversation_id = ${B.conversationId}) as messages,
        (select deleted_at from public.messages where id = ${B.messageId}) as deleted_at,
        (select contact_encrypted from public.customers where id = ${B.customerId}) as contact,
        (select tags from public.customers where id = ${B.customerId}) as tags,
        (select status from public.orders where id = ${B.orderId}) as order_status,
        (select count(*)::int from public.orders where distributor_id = ${B.t.id}) as orders,
        (select count(*)::int from public.data_access_audit where distributor_id = ${B.t.id}) as audits`;
    const before = await state();
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
    const after = await state();
    expect(after).toEqual(before);
    expect(before[0].order_status).toBe("pending");
  });

  test("lists show only my distributor's rows", async ({ api, A, B }) => {
    const me = A.t.users.OWNER;
    const convs = await (await api("GET", "/conversations?limit=100", me.token, A.t.id)).json();
    const customers = await (await api("GET", "/customers?limit=100", me.token, A.t.id)).json();
    const orders = await (await api("GET", "/orders?limit=100", me.token, A.t.id)).json();
    const ids = JSON.stringify([convs, customers, orders]);
    for (const id of [B.conversationId, B.webConversationId, B.customerId, B.orderId]) expect(ids).not.toContain(id);
    expect(convs.conversations.map((c: { id: string }) => c.id)).toContain(A.conversationId);
  });
});

describe("order of answers: 404 (not a member) → 403 (no permission) → 400 (input)", () => {
  // Bodies that fail in every way a body can: not JSON, not an object, wrong types, wrong media type.
  const malformed: [string, Opts][] = [
    ["not JSON", { body: "{nope" }],
    ["an array", { body: [1, 2] }],
    ["wrong types", { body: { customer_id: 5, items: "nope", tags: 7, email: ["x"] } }],
    ["text/plain", { body: "hi", headers: { "content-type": "text/plain" } }],
    ["no body", {}],
  ];
  // Routes with a body, and a role that lacks their permission.
  const lacking: [string, string, (w: World) => string, Role][] = [
    ["POST /orders", "POST", () => "/orders", "OPERATOR"],
    ["PATCH /customers/:id", "PATCH", (w) => `/customers/${w.customerId}`, "OPERATOR"],
  ];
  for (const [name, method, path, role] of lacking) {
    for (const [what, o] of malformed) {
      test(`${name}, ${what}: ${role} (lacks the permission) → 403; a non-member → 404; a permitted member → 400`, async ({ api, sql, A }) => {
        await expectError(await api(method, path(A), A.t.users[role].token, A.t.id, o), 403, "Forbidden");
        const outsider = await newUser(sql);
        await expectError(await api(method, path(A), outsider.token, A.t.id, o), 404, "Not found");
        await expectError(await api(method, path(A), A.t.users.OWNER.token, A.t.id, o), 400, "Invalid request");
      });
    }
  }

  test("a malformed path id: 404 for a permitted member, 403 for a role without the permission, 404 for a non-member", async ({ api, sql, A }) => {
    await expectError(await api("DELETE", "/42", A.t.users.OWNER.token, A.t.id), 404, "Not found");
    await expectError(await api("DELETE", "/42", A.t.users.OPERATOR.token, A.t.id), 403, "Forbidden");
    await expectError(await api("DELETE", "/42", (await newUser(sql)).token, A.t.id), 404, "Not found");
  });

  test("no token at all → 401 before anything else", async ({ api, A }) => {
    await expectError(await api("POST", "/orders", null, null, { body: "{nope" }), 401, "Authentication required");
    await expectError(await api("POST", "/orders", null, A.t.id, { body: "{nope" }), 401, "Authentication required");
  });
});

describe("authentication (every route)", () => {
  // authenticationCases registers plain `it`s: they reach the file's fixtures through this hook.
  let app: App;
  let A: World;
  test.beforeAll(({ app: a, A: w }) => {
    app = a;
    A = w;
  });
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
