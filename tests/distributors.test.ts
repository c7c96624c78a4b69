import { describe, expect } from "vitest";
import type postgres from "postgres";
import { createApp } from "../functions/distributors/app.ts";
import { createLogger } from "../shared/log/index.ts";
import { openAccessToken, openMessageContent, sealMessageContent } from "../shared/messaging/index.ts";
import type { Deps } from "../shared/runtime/deps.ts";
import { canManageRole, DistributorKeyCache, ROLES, type Role } from "../shared/tenancy/index.ts";
import { test as fixtures } from "./support/fixtures.ts";
import { bearer, newUser, testDeps } from "./support/harness.ts";
import { startFakeGraph, graphError, type FakeGraph } from "./support/fake-graph.ts";
import { authenticationCases, expectError } from "./support/security.ts";
import { createTenant, userWithMfa, type Tenant } from "./support/tenancy.ts";

const BASE = "http://localhost/functions/v1/distributors";
type App = ReturnType<typeof createApp>;

function call(a: App, method: string, path: string, token: string | null, body?: unknown, headers: Record<string, string> = {}) {
  const h: Record<string, string> = { ...(token ? bearer(token) : {}), ...headers };
  if (body !== undefined && !("content-type" in h)) h["content-type"] = "application/json";
  return a.request(`${BASE}${path}`, {
    method,
    headers: h,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** Who may grant, change or remove which role: the issue's rule, written out independently. */
const MAY_MANAGE: Record<Role, Role[]> = {
  OWNER: ["OWNER", "ADMIN", "MANAGER", "OPERATOR"],
  ADMIN: ["MANAGER", "OPERATOR"],
  MANAGER: [],
  OPERATOR: [],
};
const may = (actor: Role, target: Role) => MAY_MANAGE[actor].includes(target);

const phoneId = () => `${Date.now()}${Math.floor(Math.random() * 1e6)}`.slice(0, 20);

/** The file's helpers, over its superuser connection, app and fake Graph API. */
function helpers(sql: postgres.Sql, app: App, graph: FakeGraph) {
  const graphEnv = (o: Record<string, string> = {}) => ({ GRAPH_API_BASE_URL: graph.url, ...o });
  const api = (method: string, path: string, token: string | null, body?: unknown, headers?: Record<string, string>) =>
    call(app, method, path, token, body, headers);

  async function roleOf(distributorId: string, userId: string): Promise<Role | null> {
    const [row] = await sql<{ role: Role }[]>`
      select role from public.distributor_members where distributor_id = ${distributorId} and user_id = ${userId}`;
    return row?.role ?? null;
  }

  async function addMember(distributorId: string, role: Role) {
    const u = await userWithMfa(sql);
    await sql`insert into public.distributor_members (distributor_id, user_id, role) values (${distributorId}, ${u.id}, ${role})`;
    return u;
  }

  async function auditRows(distributorId: string, action?: string) {
    return await sql<{ user_id: string; action: string; table_name: string; record_id: string | null; details: Record<string, unknown>; ip: string | null; user_agent: string | null }[]>`
      select user_id, action, table_name, record_id, details, host(ip_address) as ip, user_agent
      from public.data_access_audit
      where distributor_id = ${distributorId} and (${action ?? null}::text is null or action = ${action ?? null})
      order by created_at, id`;
  }

  /** Everything a distributors call could change for one tenant, to prove nothing did. */
  async function tenantState(distributorId: string): Promise<string> {
    const [m, w, k, a, d] = await Promise.all([
      sql`select user_id, role from public.distributor_members where distributor_id = ${distributorId} order by user_id`,
      sql`select id, phone_number_id, access_token_encrypted from public.whatsapp_accounts where distributor_id = ${distributorId} order by id`,
      sql`select purpose, version, status from public.encryption_keys where distributor_id = ${distributorId} order by purpose, version`,
      sql`select count(*)::int as n from public.data_access_audit where distributor_id = ${distributorId}`,
      sql`select name from public.distributors where id = ${distributorId}`,
    ]);
    return JSON.stringify([[...m], [...w], [...k], [...a], [...d]]);
  }

  /** A connect body; its number is known to the fake Graph API with its token (ownership provable). */
  const waBody = (o: Record<string, unknown> = {}) => {
    const b = { phone_number_id: phoneId(), display_phone_number: "+1 555-0100", access_token: `EAAG${crypto.randomUUID().replaceAll("-", "")}`, ...o };
    if (typeof b.phone_number_id === "string" && typeof b.access_token === "string") {
      graph.phoneNumbers.set(b.phone_number_id, { token: b.access_token, display_phone_number: "+1 555-0100" });
    }
    return b;
  };
  const graphCalls = (phoneNumberId: string) => graph.requests.filter((r) => r.method === "GET" && r.path.includes(`/${phoneNumberId}`));

  return { graphEnv, api, roleOf, addMember, auditRows, tenantState, waBody, graphCalls };
}

type WaBody = ReturnType<typeof helpers>["waBody"];

const test = fixtures
  /** The Graph API that proves who controls a WhatsApp number (POST /:id/whatsapp). */
  .extend("graph", { scope: "file" }, async ({}, { onCleanup }) => {
    const graph = await startFakeGraph();
    onCleanup(() => graph.close());
    return graph;
  })
  .extend("deps", { scope: "file" }, async ({ graph }, { onCleanup }) => {
    const deps = await testDeps({ GRAPH_API_BASE_URL: graph.url });
    onCleanup(() => deps.db.end());
    return deps;
  })
  .extend("app", { scope: "file" }, async ({ deps }) => createApp(deps))
  /** Deps and app that do not require MFA for admin actions. */
  .extend("depsNoMfa", { scope: "file" }, async ({ graph }, { onCleanup }) => {
    const deps = await testDeps({ GRAPH_API_BASE_URL: graph.url, REQUIRE_MFA_FOR_ADMIN_ACTIONS: "false" });
    onCleanup(() => deps.db.end());
    return deps;
  })
  .extend("appNoMfa", { scope: "file" }, async ({ depsNoMfa }) => createApp(depsNoMfa))
  .extend("helpers", { scope: "file" }, async ({ sql, app, graph }) => helpers(sql, app, graph))
  .extend("graphEnv", { scope: "file" }, async ({ helpers: h }) => h.graphEnv)
  .extend("api", { scope: "file" }, async ({ helpers: h }) => h.api)
  .extend("roleOf", { scope: "file" }, async ({ helpers: h }) => h.roleOf)
  .extend("addMember", { scope: "file" }, async ({ helpers: h }) => h.addMember)
  .extend("auditRows", { scope: "file" }, async ({ helpers: h }) => h.auditRows)
  .extend("tenantState", { scope: "file" }, async ({ helpers: h }) => h.tenantState)
  /** A connect body; its number is known to the fake Graph API with its token (ownership provable). */
  .extend("waBody", { scope: "file" }, async ({ helpers: h }) => h.waBody)
  .extend("graphCalls", { scope: "file" }, async ({ helpers: h }) => h.graphCalls);

// authenticationCases registers plain `it`s: they reach the file's fixtures through this hook.
const forAuthCases = {} as { app: App; waBody: WaBody };
test.beforeAll(({ app, waBody }) => {
  Object.assign(forAuthCases, { app, waBody });
});

const randomId = () => crypto.randomUUID();

// ------------------------------------------------------------------------------------------
describe("POST / (create a distributor)", () => {
  test("creates it with the caller as OWNER, its keys and an audit row", async ({ sql, deps, api, roleOf, auditRows }) => {
    const u = await newUser(sql);
    const res = await api("POST", "", u.token, { name: "  Acme Wholesale  " }, { "x-forwarded-for": "198.51.100.9", "user-agent": "vitest-agent" });
    expect(res.status).toBe(201);
    const body = await res.json();
    expect(Object.keys(body).sort()).toEqual(["id", "name", "role"]);
    expect(body).toMatchObject({ name: "Acme Wholesale", role: "OWNER" });
    expect(res.headers.get("RateLimit-Limit")).toBe("10");

    const [d] = await sql`select name, created_by from public.distributors where id = ${body.id}`;
    expect(d).toEqual({ name: "Acme Wholesale", created_by: u.id });
    expect(await roleOf(body.id, u.id)).toBe("OWNER");
    const keys = await sql`select purpose, version, status from public.encryption_keys where distributor_id = ${body.id} order by purpose`;
    expect([...keys]).toEqual([{ purpose: "data", version: 1, status: "active" }, { purpose: "lookup", version: 1, status: "active" }]);
    expect((await deps.tenantKeys.get(body.id)).data.currentVersion).toBe(1);

    const rows = await auditRows(body.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      user_id: u.id, action: "distributor.create", table_name: "distributors", record_id: body.id,
      ip: "198.51.100.9", user_agent: "vitest-agent", details: { distributor_id: body.id, user_id: u.id, role: "OWNER" },
    });
  });

  test("rejects bad bodies with 400 and creates nothing", async ({ sql, api }) => {
    const u = await newUser(sql);
    const bad: unknown[] = [{}, { name: "" }, { name: "   " }, { name: "x".repeat(201) }, { name: 5 }, { name: null }, { name: "a\u0000b" },
      { name: "a\ud800b" }, { name: "\udfff" }, ["Acme"], "not json", "null"];
    // Failures count against the creation limit (10 a minute), so each user sends a few.
    const users = [u, await newUser(sql), await newUser(sql)];
    let i = 0;
    const next = () => users[Math.floor(i++ / 6)].token;
    for (const body of bad) await expectError(await api("POST", "", next(), body), 400, "Invalid request");
    await expectError(await api("POST", "", next(), JSON.stringify({ name: "Acme" }), { "content-type": "text/plain" }), 400, "Invalid request");
    await expectError(await api("POST", "", next()), 400, "Invalid request");
    const [{ n }] = await sql`select count(*)::int as n from public.distributors where created_by = any(${users.map((x) => x.id)})`;
    expect(n).toBe(0);
    // 200 characters is the maximum
    expect((await api("POST", "", u.token, { name: "y".repeat(200) })).status).toBe(201);
  });

  test("limits creation to 10 per user per minute (429 with Retry-After)", async ({ sql, api }) => {
    const second = Date.now() % 60_000;
    if (second > 50_000) await new Promise((r) => setTimeout(r, 60_000 - second + 200)); // stay inside one window
    const u = await newUser(sql);
    for (let i = 0; i < 10; i++) {
      const res = await api("POST", "", u.token, { name: `Flood ${i}` });
      expect(res.status).toBe(201);
      expect(res.headers.get("RateLimit-Remaining")).toBe(String(9 - i));
    }
    const res = await api("POST", "", u.token, { name: "Flood 10" });
    await expectError(res, 429, "Too many requests");
    expect(Number(res.headers.get("Retry-After"))).toBeGreaterThan(0);
    const [{ n }] = await sql`select count(*)::int as n from public.distributors where created_by = ${u.id}`;
    expect(n).toBe(10);
    // another user is not affected
    expect((await api("POST", "", (await newUser(sql)).token, { name: "Other" })).status).toBe(201);
  }, 90_000);

  test("failed creations (bad bodies) count against the same limit, so they cannot be used to flood", async ({ sql, api }) => {
    const second = Date.now() % 60_000;
    if (second > 50_000) await new Promise((r) => setTimeout(r, 60_000 - second + 200)); // stay inside one window
    const u = await newUser(sql);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await api("POST", "", u.token, { name: "" })).status);
    for (let i = 0; i < 7; i++) statuses.push((await api("POST", "", u.token, { name: `Real ${i}` })).status);
    expect(statuses).toEqual([400, 400, 400, 400, 201, 201, 201, 201, 201, 201, 429]);
    const [{ n }] = await sql`select count(*)::int as n from public.distributors where created_by = ${u.id}`;
    expect(n).toBe(6);
  }, 90_000);

  test("refuses a valid token whose user no longer exists (401, nothing stored)", async ({ sql, api }) => {
    const u = await newUser(sql);
    await sql`delete from auth.users where id = ${u.id}`;
    await expectError(await api("POST", "", u.token, { name: "Ghost" }), 401, "Authentication required");
    const [{ n }] = await sql`select count(*)::int as n from public.distributors where name = 'Ghost' and created_by is null and created_at > now() - interval '1 minute'`;
    expect(n).toBe(0);
  });

  authenticationCases("POST /", (h) => call(forAuthCases.app, "POST", "", null, { name: "Acme" }, h));
});

describe("GET / (my distributors)", () => {
  test("lists exactly my memberships with my role", async ({ sql, deps, api }) => {
    const a = await createTenant(deps, sql, "Alpha");
    const b = await createTenant(deps, sql, "Beta");
    await createTenant(deps, sql, "Gamma"); // not mine
    const me = a.users.OWNER;
    await sql`insert into public.distributor_members (distributor_id, user_id, role) values (${b.id}, ${me.id}, 'OPERATOR')`;
    const res = await api("GET", "", me.token);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      distributors: [{ id: a.id, name: "Alpha", role: "OWNER" }, { id: b.id, name: "Beta", role: "OPERATOR" }],
    });
    expect(await (await api("GET", "", b.users.MANAGER.token)).json()).toEqual({ distributors: [{ id: b.id, name: "Beta", role: "MANAGER" }] });
  });

  test("is empty for a user without memberships, and shows a new distributor after creation", async ({ sql, api }) => {
    const u = await newUser(sql);
    expect(await (await api("GET", "", u.token)).json()).toEqual({ distributors: [] });
    const created = await (await api("POST", "", u.token, { name: "Fresh" })).json();
    expect(await (await api("GET", "", u.token)).json()).toEqual({ distributors: [{ id: created.id, name: "Fresh", role: "OWNER" }] });
  });

  authenticationCases("GET /", (h) => call(forAuthCases.app, "GET", "", null, undefined, h));
});

describe("GET /:id/members", () => {
  test("lists every member for any member", async ({ sql, deps, api }) => {
    const t = await createTenant(deps, sql);
    const expected = ROLES.map((r) => ({ user_id: t.users[r].id, role: r })).sort((x, y) => x.user_id.localeCompare(y.user_id));
    for (const r of ROLES) {
      const res = await api("GET", `/${t.id}/members`, t.users[r].token);
      expect(res.status).toBe(200);
      const { members } = await res.json();
      expect(members).toHaveLength(4);
      for (const m of members) {
        expect(Object.keys(m).sort()).toEqual(["created_at", "role", "user_id"]);
        expect(new Date(m.created_at).toISOString()).toBe(m.created_at);
      }
      expect(members.map((m: { user_id: string; role: Role }) => ({ user_id: m.user_id, role: m.role }))
        .sort((x: { user_id: string }, y: { user_id: string }) => x.user_id.localeCompare(y.user_id))).toEqual(expected);
    }
  });

  authenticationCases("GET /:id/members", (h) => call(forAuthCases.app, "GET", `/${randomId()}/members`, null, undefined, h));
});

// ------------------------------------------------------------------------------------------
describe("member management matrix (actor × target role)", () => {
  test("the rule used by the API is the issue's rule", () => {
    for (const a of ROLES) for (const t of ROLES) expect(canManageRole(a, t)).toBe(may(a, t));
  });

  for (const actor of ROLES) {
    test(`${actor} adding each role`, async ({ sql, deps, api, roleOf, auditRows }) => {
      const t = await createTenant(deps, sql);
      for (const target of ROLES) {
        const u = await newUser(sql);
        const res = await api("POST", `/${t.id}/members`, t.users[actor].mfaToken, { user_id: u.id, role: target });
        if (may(actor, target)) {
          expect(res.status, `${actor} adds ${target}`).toBe(201);
          const body = await res.json();
          expect(body).toEqual({ distributor_id: t.id, user_id: u.id, role: target, created_at: expect.any(String) });
          expect(await roleOf(t.id, u.id)).toBe(target);
          const [row] = await auditRows(t.id, "member.add").then((rows) => rows.filter((r) => r.record_id === u.id));
          expect(row).toMatchObject({ user_id: t.users[actor].id, table_name: "distributor_members", details: { user_id: u.id, role: target } });
        } else {
          await expectError(res, 403, "Forbidden");
          expect(await roleOf(t.id, u.id)).toBeNull();
        }
      }
      expect(await auditRows(t.id, "member.add")).toHaveLength(MAY_MANAGE[actor].length);
    });

    test(`${actor} changing each role to each other role`, async ({ sql, deps, api, roleOf, addMember, auditRows }) => {
      const t = await createTenant(deps, sql);
      let changes = 0;
      for (const from of ROLES) {
        for (const to of ROLES.filter((r) => r !== from)) {
          const m = await addMember(t.id, from);
          const res = await api("PATCH", `/${t.id}/members/${m.id}`, t.users[actor].mfaToken, { role: to });
          if (may(actor, from) && may(actor, to)) {
            expect(res.status, `${actor} changes ${from} → ${to}`).toBe(200);
            expect(await res.json()).toEqual({ distributor_id: t.id, user_id: m.id, role: to, created_at: expect.any(String) });
            expect(await roleOf(t.id, m.id)).toBe(to);
            const rows = (await auditRows(t.id, "member.role_change")).filter((r) => r.record_id === m.id);
            expect(rows).toHaveLength(1);
            expect(rows[0]).toMatchObject({ user_id: t.users[actor].id, details: { user_id: m.id, from, to } });
            changes++;
          } else {
            await expectError(res, 403, "Forbidden");
            expect(await roleOf(t.id, m.id), `${actor} changes ${from} → ${to}`).toBe(from);
          }
        }
      }
      expect(await auditRows(t.id, "member.role_change")).toHaveLength(changes);
      expect(changes).toBe({ OWNER: 12, ADMIN: 2, MANAGER: 0, OPERATOR: 0 }[actor]);
    });

    test(`${actor} removing each role`, async ({ sql, deps, api, roleOf, addMember, auditRows }) => {
      const t = await createTenant(deps, sql);
      for (const target of ROLES) {
        const m = await addMember(t.id, target);
        const res = await api("DELETE", `/${t.id}/members/${m.id}`, t.users[actor].mfaToken);
        if (may(actor, target)) {
          expect(res.status, `${actor} removes ${target}`).toBe(200);
          expect(await res.json()).toEqual({ distributor_id: t.id, user_id: m.id, removed: true });
          expect(await roleOf(t.id, m.id)).toBeNull();
          const rows = (await auditRows(t.id, "member.remove")).filter((r) => r.record_id === m.id);
          expect(rows).toHaveLength(1);
          expect(rows[0]).toMatchObject({ user_id: t.users[actor].id, details: { user_id: m.id, role: target } });
        } else {
          await expectError(res, 403, "Forbidden");
          expect(await roleOf(t.id, m.id)).toBe(target);
        }
      }
      expect(await auditRows(t.id, "member.remove")).toHaveLength(MAY_MANAGE[actor].length);
    });
  }

  test("an ADMIN cannot change or remove itself or another ADMIN, nor promote to ADMIN", async ({ sql, deps, api, tenantState }) => {
    const t = await createTenant(deps, sql);
    const before = await tenantState(t.id);
    await expectError(await api("PATCH", `/${t.id}/members/${t.users.ADMIN.id}`, t.users.ADMIN.mfaToken, { role: "OWNER" }), 403, "Forbidden");
    await expectError(await api("DELETE", `/${t.id}/members/${t.users.ADMIN.id}`, t.users.ADMIN.mfaToken), 403, "Forbidden");
    await expectError(await api("PATCH", `/${t.id}/members/${t.users.MANAGER.id}`, t.users.ADMIN.mfaToken, { role: "ADMIN" }), 403, "Forbidden");
    expect(await tenantState(t.id)).toBe(before);
  });

  test("setting the same role is a 200 no-op without an audit row", async ({ sql, deps, api, auditRows }) => {
    const t = await createTenant(deps, sql);
    const res = await api("PATCH", `/${t.id}/members/${t.users.OPERATOR.id}`, t.users.OWNER.mfaToken, { role: "OPERATOR" });
    expect(res.status).toBe(200);
    expect((await res.json()).role).toBe("OPERATOR");
    expect(await auditRows(t.id, "member.role_change")).toHaveLength(0);
  });
});

describe("member management errors", () => {
  test("adding a user that does not exist → 404; adding an existing member → 409; nothing changes", async ({ sql, deps, api, roleOf, tenantState }) => {
    const t = await createTenant(deps, sql);
    const before = await tenantState(t.id);
    await expectError(await api("POST", `/${t.id}/members`, t.users.OWNER.mfaToken, { user_id: randomId(), role: "OPERATOR" }), 404, "Not found");
    await expectError(await api("POST", `/${t.id}/members`, t.users.OWNER.mfaToken, { user_id: t.users.MANAGER.id, role: "OPERATOR" }), 409, "Conflict");
    await expectError(await api("POST", `/${t.id}/members`, t.users.OWNER.mfaToken, { user_id: t.users.OWNER.id, role: "OWNER" }), 409, "Conflict");
    expect(await tenantState(t.id)).toBe(before);
    expect(await roleOf(t.id, t.users.MANAGER.id)).toBe("MANAGER");
  });

  test("accepts an upper-case user id and stores it normalised", async ({ sql, deps, api, roleOf }) => {
    const t = await createTenant(deps, sql);
    const u = await newUser(sql);
    const res = await api("POST", `/${t.id}/members`, t.users.OWNER.mfaToken, { user_id: u.id.toUpperCase(), role: "MANAGER" });
    expect(res.status).toBe(201);
    expect((await res.json()).user_id).toBe(u.id);
    const patched = await api("PATCH", `/${t.id}/members/${u.id.toUpperCase()}`, t.users.OWNER.mfaToken, { role: "OPERATOR" });
    expect(patched.status).toBe(200);
    expect(await roleOf(t.id, u.id)).toBe("OPERATOR");
  });

  test("changing or removing a non-member, or a malformed user id → 404", async ({ sql, deps, api, tenantState }) => {
    const t = await createTenant(deps, sql);
    const outsider = await newUser(sql);
    const before = await tenantState(t.id);
    for (const target of [outsider.id, randomId(), "not-a-uuid", "1"]) {
      await expectError(await api("PATCH", `/${t.id}/members/${target}`, t.users.OWNER.mfaToken, { role: "ADMIN" }), 404, "Not found");
      await expectError(await api("DELETE", `/${t.id}/members/${target}`, t.users.OWNER.mfaToken), 404, "Not found");
    }
    expect(await tenantState(t.id)).toBe(before);
  });

  test("bad bodies → 400 and nothing changes", async ({ sql, deps, api, tenantState }) => {
    const t = await createTenant(deps, sql);
    const u = await newUser(sql);
    const before = await tenantState(t.id);
    const owner = t.users.OWNER.mfaToken;
    const addBodies: unknown[] = [{}, { user_id: u.id }, { role: "OPERATOR" }, { user_id: "nope", role: "OPERATOR" },
      { user_id: u.id, role: "ROOT" }, { user_id: u.id, role: "operator" }, { user_id: u.id, role: null }, [u.id], "{", "null"];
    for (const body of addBodies) await expectError(await api("POST", `/${t.id}/members`, owner, body), 400, "Invalid request");
    await expectError(await api("POST", `/${t.id}/members`, owner, JSON.stringify({ user_id: u.id, role: "OPERATOR" }), { "content-type": "text/plain" }),
      400, "Invalid request");
    for (const body of [{}, { role: "boss" }, { role: 1 }, "{"]) {
      await expectError(await api("PATCH", `/${t.id}/members/${t.users.OPERATOR.id}`, owner, body), 400, "Invalid request");
    }
    await expectError(await api("PATCH", `/${t.id}/members/${t.users.OPERATOR.id}`, owner), 400, "Invalid request");
    expect(await tenantState(t.id)).toBe(before);
  });

  test("checks permission before the body: members without it get 403 whatever they send", async ({ sql, deps, api, tenantState, waBody }) => {
    const t = await createTenant(deps, sql);
    const before = await tenantState(t.id);
    for (const r of ["MANAGER", "OPERATOR"] as const) {
      const tok = t.users[r].mfaToken;
      await expectError(await api("POST", `/${t.id}/members`, tok, {}), 403, "Forbidden");
      await expectError(await api("POST", `/${t.id}/members`, tok, "{"), 403, "Forbidden");
      await expectError(await api("PATCH", `/${t.id}/members/${t.users.OPERATOR.id}`, tok, { role: "nope" }), 403, "Forbidden");
      await expectError(await api("POST", `/${t.id}/whatsapp`, tok, {}), 403, "Forbidden");
    }
    await expectError(await api("POST", `/${t.id}/whatsapp`, t.users.MANAGER.mfaToken, waBody()), 403, "Forbidden");
    expect(await tenantState(t.id)).toBe(before);
  });

  authenticationCases("POST /:id/members", (h) => call(forAuthCases.app, "POST", `/${randomId()}/members`, null, { user_id: randomId(), role: "OPERATOR" }, h));
  authenticationCases("PATCH /:id/members/:userId", (h) => call(forAuthCases.app, "PATCH", `/${randomId()}/members/${randomId()}`, null, { role: "ADMIN" }, h));
  authenticationCases("DELETE /:id/members/:userId", (h) => call(forAuthCases.app, "DELETE", `/${randomId()}/members/${randomId()}`, null, undefined, h));
});

describe("the last OWNER", () => {
  test("can be neither removed nor demoted (409), by itself or anyone", async ({ sql, deps, api, tenantState }) => {
    const t = await createTenant(deps, sql);
    const owner = t.users.OWNER;
    const before = await tenantState(t.id);
    await expectError(await api("DELETE", `/${t.id}/members/${owner.id}`, owner.mfaToken), 409, "Conflict");
    for (const role of ["ADMIN", "MANAGER", "OPERATOR"]) {
      await expectError(await api("PATCH", `/${t.id}/members/${owner.id}`, owner.mfaToken, { role }), 409, "Conflict");
    }
    // the others lack the permission in the first place
    await expectError(await api("DELETE", `/${t.id}/members/${owner.id}`, t.users.ADMIN.mfaToken), 403, "Forbidden");
    expect(await tenantState(t.id)).toBe(before);
  });

  test("with two OWNERs one may step down; then the other is the last", async ({ sql, deps, api, roleOf, addMember }) => {
    const t = await createTenant(deps, sql);
    const second = await addMember(t.id, "OWNER");
    const res = await api("PATCH", `/${t.id}/members/${t.users.OWNER.id}`, t.users.OWNER.mfaToken, { role: "ADMIN" });
    expect(res.status).toBe(200);
    expect(await roleOf(t.id, t.users.OWNER.id)).toBe("ADMIN");
    await expectError(await api("PATCH", `/${t.id}/members/${second.id}`, second.mfaToken, { role: "ADMIN" }), 409, "Conflict");
    await expectError(await api("DELETE", `/${t.id}/members/${second.id}`, second.mfaToken), 409, "Conflict");
    // an OWNER may leave when another OWNER remains
    const third = await addMember(t.id, "OWNER");
    expect((await api("DELETE", `/${t.id}/members/${third.id}`, third.mfaToken)).status).toBe(200);
    expect(await roleOf(t.id, second.id)).toBe("OWNER");
  });

  test("is race-safe: two OWNERs demoting or removing each other at once leave exactly one OWNER", async ({ sql, deps, api, addMember }) => {
    for (let round = 0; round < 5; round++) {
      const t = await createTenant(deps, sql);
      const a = t.users.OWNER;
      const b = await addMember(t.id, "OWNER");
      const [r1, r2] = await Promise.all(round % 2 === 0
        ? [api("PATCH", `/${t.id}/members/${b.id}`, a.mfaToken, { role: "ADMIN" }), api("PATCH", `/${t.id}/members/${a.id}`, b.mfaToken, { role: "ADMIN" })]
        : [api("DELETE", `/${t.id}/members/${b.id}`, a.mfaToken), api("DELETE", `/${t.id}/members/${a.id}`, b.mfaToken)]);
      // The loser is refused either because it is no longer an OWNER (403) or would leave none (409).
      const statuses = [r1.status, r2.status].sort();
      expect(statuses[0]).toBe(200);
      expect([403, 404, 409]).toContain(statuses[1]);
      const [{ n }] = await sql`select count(*)::int as n from public.distributor_members where distributor_id = ${t.id} and role = 'OWNER'`;
      expect(n).toBe(1);
    }
  });
});

// ------------------------------------------------------------------------------------------
describe("multi-factor authentication for admin actions", () => {
  const actions = (t: Tenant, target: { id: string }, waBody: WaBody) => [
    { name: "add member", method: "POST", path: `/${t.id}/members`, body: { user_id: target.id, role: "OPERATOR" }, ok: 201 },
    { name: "change role", method: "PATCH", path: `/${t.id}/members/${t.users.OPERATOR.id}`, body: { role: "MANAGER" }, ok: 200 },
    { name: "remove member", method: "DELETE", path: `/${t.id}/members/${t.users.MANAGER.id}`, body: undefined, ok: 200 },
    { name: "connect whatsapp", method: "POST", path: `/${t.id}/whatsapp`, body: waBody(), ok: 201 },
    { name: "rotate key", method: "POST", path: `/${t.id}/rotate-key`, body: undefined, ok: 200 },
  ];

  test("aal1 → 403 mfa_required and nothing changes; aal2 → done", async ({ sql, deps, api, tenantState, waBody }) => {
    const t = await createTenant(deps, sql);
    const target = await newUser(sql);
    for (const a of actions(t, target, waBody)) {
      const before = await tenantState(t.id);
      await expectError(await api(a.method, a.path, t.users.OWNER.token, a.body), 403, "Multi-factor authentication required");
      expect(await tenantState(t.id), a.name).toBe(before);
      const res = await api(a.method, a.path, t.users.OWNER.mfaToken, a.body);
      expect(res.status, a.name).toBe(a.ok);
    }
  });

  test("with REQUIRE_MFA_FOR_ADMIN_ACTIONS=false aal1 is enough", async ({ sql, depsNoMfa, appNoMfa, roleOf, waBody }) => {
    const t = await createTenant(depsNoMfa, sql);
    const target = await newUser(sql);
    for (const a of actions(t, target, waBody)) {
      const res = await call(appNoMfa, a.method, a.path, t.users.OWNER.token, a.body);
      expect(res.status, a.name).toBe(a.ok);
    }
    expect(await roleOf(t.id, target.id)).toBe("OPERATOR");
    expect(await roleOf(t.id, t.users.OPERATOR.id)).toBe("MANAGER");
    expect(await roleOf(t.id, t.users.MANAGER.id)).toBeNull();
  });

  test("membership first (404), then role (403), then MFA (403), then body (400)", async ({ sql, deps, api }) => {
    const t = await createTenant(deps, sql);
    const outsider = await userWithMfa(sql);
    await expectError(await api("POST", `/${t.id}/members`, outsider.token, {}), 404, "Not found");
    await expectError(await api("POST", `/${t.id}/rotate-key`, outsider.token), 404, "Not found");
    await expectError(await api("POST", `/${t.id}/members`, t.users.MANAGER.token, {}), 403, "Forbidden");
    await expectError(await api("POST", `/${t.id}/rotate-key`, t.users.ADMIN.token), 403, "Forbidden");
    await expectError(await api("POST", `/${t.id}/members`, t.users.ADMIN.token, {}), 403, "Multi-factor authentication required");
    await expectError(await api("POST", `/${t.id}/whatsapp`, t.users.ADMIN.token, "{"), 403, "Multi-factor authentication required");
    await expectError(await api("POST", `/${t.id}/members`, t.users.ADMIN.mfaToken, {}), 400, "Invalid request");
  });

  test("listing members needs no MFA", async ({ sql, deps, api }) => {
    const t = await createTenant(deps, sql);
    expect((await api("GET", `/${t.id}/members`, t.users.OPERATOR.token)).status).toBe(200);
  });
});

// ------------------------------------------------------------------------------------------
describe("ids that are not mine", () => {
  const routes = (id: string, member: string, waBody: WaBody) => [
    { method: "GET", path: `/${id}/members`, body: undefined },
    { method: "POST", path: `/${id}/members`, body: { user_id: member, role: "OPERATOR" } },
    { method: "PATCH", path: `/${id}/members/${member}`, body: { role: "ADMIN" } },
    { method: "DELETE", path: `/${id}/members/${member}`, body: undefined },
    { method: "POST", path: `/${id}/whatsapp`, body: waBody() },
    { method: "POST", path: `/${id}/rotate-key`, body: undefined },
  ];

  test("another tenant's distributor → 404 on every /:id route, and it is unchanged", async ({ sql, deps, api, tenantState, waBody }) => {
    const a = await createTenant(deps, sql, "A");
    const b = await createTenant(deps, sql, "B");
    const before = await tenantState(b.id);
    for (const r of routes(b.id, b.users.OPERATOR.id, waBody)) {
      await expectError(await api(r.method, r.path, a.users.OWNER.mfaToken, r.body), 404, "Not found");
    }
    // also with the other tenant's member id under my own distributor
    await expectError(await api("PATCH", `/${a.id}/members/${b.users.OWNER.id}`, a.users.OWNER.mfaToken, { role: "OPERATOR" }), 404, "Not found");
    await expectError(await api("DELETE", `/${a.id}/members/${b.users.OWNER.id}`, a.users.OWNER.mfaToken), 404, "Not found");
    expect(await tenantState(b.id)).toBe(before);
  });

  test("a non-existent or malformed distributor id → 404 on every /:id route", async ({ sql, deps, api, waBody }) => {
    const a = await createTenant(deps, sql);
    const someone = await newUser(sql);
    for (const id of [randomId(), "not-a-uuid", "123", "00000000-0000-0000-0000-00000000000g"]) {
      for (const r of routes(id, someone.id, waBody)) {
        await expectError(await api(r.method, r.path, a.users.OWNER.mfaToken, r.body), 404, "Not found");
      }
    }
  });
});

// ------------------------------------------------------------------------------------------
describe("POST /:id/whatsapp", () => {
  test("connects a number; the token is stored only encrypted, bound to the row, and never returned or logged", async ({ sql, graphEnv, auditRows, waBody }) => {
    const lines: string[] = [];
    const logged = await testDeps(graphEnv({ LOG_LEVEL: "debug" }), { logger: createLogger("debug", (l) => lines.push(l)) });
    try {
      const logApp = createApp(logged);
      const t = await createTenant(logged, sql);
      const body = waBody();
      const res = await call(logApp, "POST", `/${t.id}/whatsapp`, t.users.ADMIN.mfaToken, body);
      expect(res.status).toBe(201);
      const text = await res.text();
      expect(text).not.toContain(body.access_token);
      const out = JSON.parse(text);
      expect(out).toEqual({ id: expect.any(String), phone_number_id: body.phone_number_id, display_phone_number: "+1 555-0100" });

      const [row] = await sql`select * from public.whatsapp_accounts where id = ${out.id}`;
      expect(row).toMatchObject({ distributor_id: t.id, phone_number_id: body.phone_number_id, key_version: 1 });
      expect(JSON.stringify(row)).not.toContain(body.access_token);
      expect(JSON.stringify(row)).not.toContain(body.access_token.slice(4, 20));
      const fresh = new DistributorKeyCache(logged.db.sql, logged.keyring);
      const keys = await fresh.get(t.id);
      expect(await openAccessToken(keys, out.id, row as never)).toBe(body.access_token);
      await expect(openAccessToken(keys, randomId(), row as never)).rejects.toThrow(); // bound to its row

      const audit = await auditRows(t.id, "whatsapp.connect");
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({ user_id: t.users.ADMIN.id, table_name: "whatsapp_accounts", record_id: out.id,
        details: { account_id: out.id, phone_number_id: body.phone_number_id } });
      expect(JSON.stringify(audit)).not.toContain(body.access_token);
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.join("\n")).not.toContain(body.access_token);
    } finally {
      await logged.db.end();
    }
  });

  test("OWNER and ADMIN may connect; MANAGER and OPERATOR may not", async ({ sql, deps, api, waBody }) => {
    const t = await createTenant(deps, sql);
    for (const r of ROLES) {
      const res = await api("POST", `/${t.id}/whatsapp`, t.users[r].mfaToken, waBody());
      if (r === "OWNER" || r === "ADMIN") expect(res.status, r).toBe(201);
      else await expectError(res, 403, "Forbidden");
    }
    const [{ n }] = await sql`select count(*)::int as n from public.whatsapp_accounts where distributor_id = ${t.id}`;
    expect(n).toBe(2);
  });

  test("a phone_number_id already connected (here or by another distributor) → 409, nothing changes", async ({ sql, deps, api, tenantState, waBody }) => {
    const a = await createTenant(deps, sql);
    const b = await createTenant(deps, sql);
    const body = waBody();
    expect((await api("POST", `/${a.id}/whatsapp`, a.users.OWNER.mfaToken, body)).status).toBe(201);
    const beforeA = await tenantState(a.id);
    const beforeB = await tenantState(b.id);
    await expectError(await api("POST", `/${a.id}/whatsapp`, a.users.OWNER.mfaToken, { ...body, access_token: "EAAGother" }), 409, "Conflict");
    await expectError(await api("POST", `/${b.id}/whatsapp`, b.users.OWNER.mfaToken, { ...body, access_token: "EAAGstolen" }), 409, "Conflict");
    expect(await tenantState(a.id)).toBe(beforeA);
    expect(await tenantState(b.id)).toBe(beforeB);
  });

  /** The parts of a 409 a caller can see, minus the request id. */
  async function conflictShape(res: Response) {
    expect(res.status).toBe(409);
    const body = await res.json();
    const headers = [...res.headers.entries()].filter(([k]) => k !== "x-request-id").sort();
    return { status: res.status, keys: Object.keys(body).sort(), error: body.error, headers };
  }
  test("proves control through the Graph API first: GET /<version>/<id>?fields=… with the supplied token, digits compared", async ({ sql, deps, api, waBody, graphCalls }) => {
    const t = await createTenant(deps, sql);
    const body = waBody({ display_phone_number: "+1 (555) 01-00" }); // Graph says "+1 555-0100": the same digits
    const res = await api("POST", `/${t.id}/whatsapp`, t.users.OWNER.mfaToken, body);
    expect(res.status).toBe(201);
    const calls = graphCalls(body.phone_number_id);
    expect(calls).toHaveLength(1);
    expect(calls[0].path).toBe(`/v21.0/${body.phone_number_id}?fields=display_phone_number,verified_name`);
    expect(calls[0].authorization).toBe(`Bearer ${body.access_token}`);
    const [row] = await sql`select * from public.whatsapp_accounts where phone_number_id = ${body.phone_number_id}`;
    expect(row.distributor_id).toBe(t.id);
    expect(JSON.stringify(row)).not.toContain(body.access_token); // stored sealed
    const keys = await deps.tenantKeys.get(t.id);
    expect(await openAccessToken(keys, row.id, row as never)).toBe(body.access_token);
  });

  test("a wrong token, another number or an unknown id → 409, nothing stored, nothing audited", async ({ sql, deps, graph, api, tenantState, waBody }) => {
    const t = await createTenant(deps, sql);
    const before = await tenantState(t.id);
    const good = waBody();
    // a token that cannot read the number (Graph: 401 OAuthException)
    await expectError(await api("POST", `/${t.id}/whatsapp`, t.users.OWNER.mfaToken, { ...good, access_token: "EAAGbogus" }), 409, "Conflict");
    // the token works, but the number is not the one submitted
    const other = waBody();
    graph.phoneNumbers.set(other.phone_number_id, { token: other.access_token, display_phone_number: "+44 7700 900123" });
    await expectError(await api("POST", `/${t.id}/whatsapp`, t.users.OWNER.mfaToken, other), 409, "Conflict");
    // an id Graph does not know (400 code 100)
    const unknown = { ...waBody(), phone_number_id: phoneId() };
    await expectError(await api("POST", `/${t.id}/whatsapp`, t.users.OWNER.mfaToken, unknown), 409, "Conflict");
    expect(await tenantState(t.id)).toBe(before);
    const [{ n }] = await sql`select count(*)::int as n from public.whatsapp_accounts
                              where phone_number_id = any(${[good.phone_number_id, other.phone_number_id, unknown.phone_number_id]})`;
    expect(n).toBe(0);
  });

  test("a number connected elsewhere answers a working token with the very 409 a failed proof gets", async ({ sql, deps, api, tenantState, waBody }) => {
    const a = await createTenant(deps, sql);
    const b = await createTenant(deps, sql);
    const body = waBody();
    expect((await api("POST", `/${a.id}/whatsapp`, a.users.OWNER.mfaToken, body)).status).toBe(201);
    const beforeB = await tenantState(b.id);
    // b holds a working token for the number (Graph proves it), but a connected it first
    const taken = await conflictShape(await api("POST", `/${b.id}/whatsapp`, b.users.OWNER.mfaToken, body));
    // a stranger's guess with a bogus token, for the same and for a free number
    const stranger = await conflictShape(await api("POST", `/${b.id}/whatsapp`, b.users.OWNER.mfaToken, { ...body, access_token: "EAAGguess" }));
    const free = waBody();
    const unproven = await conflictShape(await api("POST", `/${b.id}/whatsapp`, b.users.OWNER.mfaToken, { ...free, access_token: "EAAGguess" }));
    expect(taken).toEqual({ status: 409, keys: ["error", "requestId"], error: "Conflict", headers: expect.any(Array) });
    expect(stranger).toEqual(taken);
    expect(unproven).toEqual(taken);
    expect(await tenantState(b.id)).toBe(beforeB);
  });

  test("Graph failing (5xx, 429, invalid answer), timing out or unreachable → 502 Upstream service error, nothing stored", async ({ sql, deps, graph, graphEnv, api, tenantState, waBody }) => {
    const t = await createTenant(deps, sql);
    const before = await tenantState(t.id);
    const scripted = [
      graphError(500, 1, "An unknown error has occurred."), graphError(503, 2, "Service temporarily unavailable"),
      graphError(429, 4, "Application request limit reached"), { status: 200, body: { id: "1" } }, { status: 200, body: "not json" },
    ];
    for (const r of scripted) {
      graph.script(r);
      await expectError(await api("POST", `/${t.id}/whatsapp`, t.users.OWNER.mfaToken, waBody()), 502, "Upstream service error");
    }
    const slow = await testDeps(graphEnv({ GRAPH_API_TIMEOUT_MS: "150" }));
    const down = await testDeps({ GRAPH_API_BASE_URL: "http://127.0.0.1:9" });
    try {
      graph.script({ ...graphError(500, 1, "late"), delayMs: 1_000 });
      await expectError(await call(createApp(slow), "POST", `/${t.id}/whatsapp`, t.users.OWNER.mfaToken, waBody()), 502, "Upstream service error");
      await expectError(await call(createApp(down), "POST", `/${t.id}/whatsapp`, t.users.OWNER.mfaToken, waBody()), 502, "Upstream service error");
    } finally {
      await slow.db.end();
      await down.db.end();
    }
    expect(await tenantState(t.id)).toBe(before);
  });

  test("the gate before Graph (a stranger's token is never used), and no transaction open during the Graph call", async ({ sql, deps, graph, api, waBody, graphCalls }) => {
    const t = await createTenant(deps, sql);
    const outsider = await userWithMfa(sql);
    for (const [token, status, error] of [
      [t.users.MANAGER.mfaToken, 403, "Forbidden"], [t.users.OWNER.token, 403, "Multi-factor authentication required"],
      [outsider.mfaToken, 404, "Not found"],
    ] as const) {
      const body = waBody();
      await expectError(await api("POST", `/${t.id}/whatsapp`, token, body), status, error);
      expect(graphCalls(body.phone_number_id)).toHaveLength(0);
    }
    // While Graph takes its time, the caller's membership row is not locked (the write
    // transaction, which locks it for share, has not started).
    const body = waBody();
    graph.script({ status: 200, body: { display_phone_number: "+1 555-0100", verified_name: "Acme", id: body.phone_number_id }, delayMs: 600 });
    const pending = api("POST", `/${t.id}/whatsapp`, t.users.OWNER.mfaToken, body);
    for (let i = 0; i < 50 && graphCalls(body.phone_number_id).length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(graphCalls(body.phone_number_id)).toHaveLength(1);
    const locked = await sql.begin(async (tx) => {
      await tx`set local lock_timeout = '100ms'`;
      return await tx`select 1 from public.distributor_members where distributor_id = ${t.id} and user_id = ${t.users.OWNER.id} for update`
        .then(() => false, () => true);
    });
    expect(locked).toBe(false);
    expect((await pending).status).toBe(201);
  });

  test("bad bodies → 400 and nothing stored", async ({ sql, deps, api, tenantState, waBody }) => {
    const t = await createTenant(deps, sql);
    const before = await tenantState(t.id);
    const bad: unknown[] = [
      {}, waBody({ phone_number_id: undefined }), waBody({ phone_number_id: "12ab" }), waBody({ phone_number_id: 123456 }),
      waBody({ phone_number_id: "1".repeat(33) }), waBody({ display_phone_number: "" }), waBody({ display_phone_number: "x".repeat(33) }),
      waBody({ display_phone_number: "call me" }), waBody({ access_token: "" }), waBody({ access_token: "has space" }),
      waBody({ access_token: "a".repeat(4097) }), waBody({ access_token: undefined }), "{", "[]",
    ];
    for (const body of bad) await expectError(await api("POST", `/${t.id}/whatsapp`, t.users.OWNER.mfaToken, body), 400, "Invalid request");
    expect(await tenantState(t.id)).toBe(before);
  });

  authenticationCases("POST /:id/whatsapp", (h) => call(forAuthCases.app, "POST", `/${randomId()}/whatsapp`, null, forAuthCases.waBody(), h));
});

describe("POST /:id/rotate-key", () => {
  test("adds a data-key version; old data stays readable, new data uses the new version", async ({ sql, deps, api, auditRows, waBody }) => {
    const t = await createTenant(deps, sql);
    const cached = await deps.tenantKeys.get(t.id); // primes this instance's cache
    expect(cached.data.currentVersion).toBe(1);
    const messageId = randomId();
    const old = await sealMessageContent(cached, messageId, { text: "sealed before rotation" });
    const wa = await (await api("POST", `/${t.id}/whatsapp`, t.users.OWNER.mfaToken, waBody({ access_token: "EAAGbeforeRotation" }))).json();

    const res = await api("POST", `/${t.id}/rotate-key`, t.users.OWNER.mfaToken, undefined, { "user-agent": "rotator" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ version: 2 });
    expect((await deps.tenantKeys.get(t.id)).data.currentVersion).toBe(2); // the app invalidated its cache

    const fresh = new DistributorKeyCache(deps.db.sql, deps.keyring);
    const keys = await fresh.get(t.id);
    expect(keys.data.currentVersion).toBe(2);
    expect(await openMessageContent(keys, messageId, old)).toEqual({ text: "sealed before rotation" });
    const [row] = await sql`select * from public.whatsapp_accounts where id = ${wa.id}`;
    expect(await openAccessToken(keys, wa.id, row as never)).toBe("EAAGbeforeRotation");
    expect((await sealMessageContent(keys, randomId(), { text: "new" })).key_version).toBe(2);

    const rows = await sql`select purpose, version, status from public.encryption_keys where distributor_id = ${t.id} order by purpose, version`;
    expect([...rows]).toEqual([
      { purpose: "data", version: 1, status: "retired" },
      { purpose: "data", version: 2, status: "active" },
      { purpose: "lookup", version: 1, status: "active" },
    ]);
    const audit = await auditRows(t.id, "key.rotate");
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ user_id: t.users.OWNER.id, table_name: "encryption_keys", user_agent: "rotator", details: { purpose: "data", version: 2 } });

    // a token connected after rotation uses the new version
    const wa2 = await (await api("POST", `/${t.id}/whatsapp`, t.users.OWNER.mfaToken, waBody())).json();
    const [row2] = await sql`select key_version from public.whatsapp_accounts where id = ${wa2.id}`;
    expect(row2.key_version).toBe(2);
  });

  test("concurrent rotations each get their own version", async ({ sql, deps, api, auditRows }) => {
    const t = await createTenant(deps, sql);
    const res = await Promise.all([1, 2, 3].map(() => api("POST", `/${t.id}/rotate-key`, t.users.OWNER.mfaToken)));
    expect(res.map((r) => r.status)).toEqual([200, 200, 200]);
    const versions = (await Promise.all(res.map((r) => r.json()))).map((b) => b.version).sort();
    expect(versions).toEqual([2, 3, 4]);
    const [{ n }] = await sql`select count(*)::int as n from public.encryption_keys where distributor_id = ${t.id} and purpose = 'data' and status = 'active'`;
    expect(n).toBe(1);
    expect(await auditRows(t.id, "key.rotate")).toHaveLength(3);
  });

  test("only an OWNER may rotate", async ({ sql, deps, api, tenantState }) => {
    const t = await createTenant(deps, sql);
    const before = await tenantState(t.id);
    for (const r of ["ADMIN", "MANAGER", "OPERATOR"] as const) {
      await expectError(await api("POST", `/${t.id}/rotate-key`, t.users[r].mfaToken), 403, "Forbidden");
    }
    expect(await tenantState(t.id)).toBe(before);
  });

  authenticationCases("POST /:id/rotate-key", (h) => call(forAuthCases.app, "POST", `/${randomId()}/rotate-key`, null, undefined, h));
});

// ------------------------------------------------------------------------------------------
describe("custom access token hook", () => {
  test("puts the user's memberships in claims.app_metadata.distributors and keeps the other claims", async ({ sql, deps, api }) => {
    const a = await createTenant(deps, sql, "Hook A");
    const b = await createTenant(deps, sql, "Hook B");
    const me = a.users.OWNER;
    expect((await api("POST", `/${b.id}/members`, b.users.OWNER.mfaToken, { user_id: me.id, role: "OPERATOR" })).status).toBe(201);
    const event = { user_id: me.id, claims: { sub: me.id, aal: "aal1", app_metadata: { provider: "email" } } };
    const result = await sql.begin(async (tx) => {
      await tx`set local role supabase_auth_admin`; // the role Supabase Auth calls it as
      const [row] = await tx`select public.custom_access_token_hook(${tx.json(event)}::jsonb) as out`;
      return row.out;
    });
    expect(result.user_id).toBe(me.id);
    expect(result.claims.sub).toBe(me.id);
    expect(result.claims.app_metadata.provider).toBe("email");
    expect(result.claims.app_metadata.distributors).toEqual([
      { distributor_id: a.id, role: "OWNER" },
      { distributor_id: b.id, role: "OPERATOR" },
    ]);
  });

  test("gives an empty list to a user without memberships (literal event from the brief)", async ({ sql }) => {
    const u = await newUser(sql);
    expect(u.id).toMatch(/^[0-9a-f-]{36}$/); // safe to inline
    const [{ out }] = await sql.unsafe(
      `select public.custom_access_token_hook('{"user_id":"${u.id}","claims":{"app_metadata":{}}}'::jsonb) as out`);
    expect(out.claims.app_metadata.distributors).toEqual([]);
  });
});

describe("OpenAPI document", () => {
  test("documents every route", async ({ app }) => {
    const res = await app.request(`${BASE}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = await res.json();
    expect(doc.servers).toEqual([{ url: "/functions/v1/distributors" }]);
    expect(Object.keys(doc.paths).sort()).toEqual(["/", "/{id}/members", "/{id}/members/{userId}", "/{id}/rotate-key", "/{id}/whatsapp"]);
    expect(Object.keys(doc.paths["/"]).sort()).toEqual(["get", "post"]);
    expect(Object.keys(doc.paths["/{id}/members"]).sort()).toEqual(["get", "post"]);
    expect(Object.keys(doc.paths["/{id}/members/{userId}"]).sort()).toEqual(["delete", "patch"]);
    expect(doc.paths["/{id}/whatsapp"].post.requestBody.content["application/json"].schema).toBeDefined();
    expect(doc.components.schemas.Role.enum).toEqual(["OWNER", "ADMIN", "MANAGER", "OPERATOR"]);
  });
});

// ------------------------------------------------------------------------------------------
describe("400 answers name the failing field, never its value", () => {
  test("names the field in the body and in the log, and echoes no value", async ({ sql, graphEnv, tenantState, waBody }) => {
    const lines: string[] = [];
    const logged = await testDeps(graphEnv({ LOG_LEVEL: "debug" }), { logger: createLogger("debug", (l) => lines.push(l)) });
    try {
      const logApp = createApp(logged);
      const t = await createTenant(logged, sql);
      const u = await newUser(sql);
      const longName = `Secret-${"q".repeat(250)}`;
      const cases: { method: string; path: string; token: string; body: unknown; value: string; issue: { in: string; path: string; code: string } }[] = [
        { method: "POST", path: "", token: u.token, body: { name: longName }, value: longName, issue: { in: "body", path: "name", code: "too_big" } },
        { method: "POST", path: `/${t.id}/members`, token: t.users.OWNER.mfaToken, body: { user_id: "not-a-uuid-ZZZ", role: "OPERATOR" },
          value: "not-a-uuid-ZZZ", issue: { in: "body", path: "user_id", code: "invalid_format" } },
        { method: "PATCH", path: `/${t.id}/members/${t.users.OPERATOR.id}`, token: t.users.OWNER.mfaToken, body: { role: "SUPREME_LEADER" },
          value: "SUPREME_LEADER", issue: { in: "body", path: "role", code: "invalid_value" } },
        { method: "POST", path: `/${t.id}/whatsapp`, token: t.users.OWNER.mfaToken, body: waBody({ access_token: "EAAG secret token" }),
          value: "EAAG secret token", issue: { in: "body", path: "access_token", code: "invalid_format" } },
      ];
      for (const k of cases) {
        lines.length = 0;
        const res = await call(logApp, k.method, k.path, k.token, k.body);
        const text = await res.clone().text();
        const body = await expectError(res, 400, "Invalid request");
        expect(body.issues, `${k.method} ${k.path}`).toEqual([k.issue]);
        expect(text).not.toContain(k.value);
        const failed = lines.map((l) => JSON.parse(l)).find((l) => l.msg === "request.failed" || l.message === "request.failed" || l.event === "request.failed");
        expect(failed, lines.join("\n")).toBeDefined();
        expect(JSON.stringify(failed)).toContain(`body:${k.issue.path}:${k.issue.code}`);
        expect(lines.join("\n")).not.toContain(k.value);
      }
      // several failing fields are all named
      const res = await call(logApp, "POST", `/${t.id}/whatsapp`, t.users.OWNER.mfaToken, { phone_number_id: "12ab" });
      const body = await expectError(res, 400, "Invalid request");
      expect(body.issues!.map((i) => i.path).sort()).toEqual(["access_token", "display_phone_number", "phone_number_id"]);
      expect(await tenantState(t.id)).not.toContain("12ab");
    } finally {
      await logged.db.end();
    }
  });

  test("malformed JSON and a wrong content type are 400s that say so", async ({ sql, api }) => {
    const u = await newUser(sql);
    const bad = await expectError(await api("POST", "", u.token, "{"), 400, "Invalid request");
    expect(bad.issues?.[0]?.in).toBe("body");
    await expectError(await api("POST", "", u.token, JSON.stringify({ name: "Acme" }), { "content-type": "text/plain" }), 400, "Invalid request");
  });
});

describe("permission before the body (the tenant gate)", () => {
  test("a member whose role lacks the permission gets 403 whatever the body; a non-member 404; nothing changes", async ({ sql, deps, api, tenantState }) => {
    const t = await createTenant(deps, sql);
    const outsider = await userWithMfa(sql);
    const before = await tenantState(t.id);
    const malformed: unknown[] = [{}, "{", { user_id: "x".repeat(5000), role: "ROOT" }, "null", []];
    for (const body of malformed) {
      await expectError(await api("POST", `/${t.id}/members`, t.users.OPERATOR.mfaToken, body), 403, "Forbidden");
      await expectError(await api("POST", `/${t.id}/members`, t.users.OPERATOR.token, body), 403, "Forbidden");
      await expectError(await api("POST", `/${t.id}/members`, outsider.mfaToken, body), 404, "Not found");
      await expectError(await api("PATCH", `/${t.id}/members/${t.users.MANAGER.id}`, t.users.OPERATOR.mfaToken, body), 403, "Forbidden");
      await expectError(await api("PATCH", `/${t.id}/members/${t.users.MANAGER.id}`, outsider.mfaToken, body), 404, "Not found");
      await expectError(await api("POST", `/${t.id}/whatsapp`, t.users.MANAGER.mfaToken, body), 403, "Forbidden");
      await expectError(await api("POST", `/${t.id}/whatsapp`, outsider.mfaToken, body), 404, "Not found");
    }
    // a malformed member id is judged after the caller's permission too
    await expectError(await api("DELETE", `/${t.id}/members/not-a-uuid`, t.users.OPERATOR.mfaToken), 403, "Forbidden");
    await expectError(await api("DELETE", `/${t.id}/members/not-a-uuid`, outsider.mfaToken), 404, "Not found");
    await expectError(await api("DELETE", `/${t.id}/members/not-a-uuid`, t.users.OWNER.mfaToken), 404, "Not found");
    // a body without a content type is judged after the permission as well
    await expectError(await api("POST", `/${t.id}/members`, t.users.OPERATOR.mfaToken, "x", { "content-type": "text/plain" }), 403, "Forbidden");
    // ADMIN holds whatsapp.connect but not keys.rotate (the matrix, not a role name, decides)
    await expectError(await api("POST", `/${t.id}/rotate-key`, t.users.ADMIN.mfaToken), 403, "Forbidden");
    expect(await tenantState(t.id)).toBe(before);
  });

  test("a non-member listing members → 404, any member → 200", async ({ sql, deps, api }) => {
    const t = await createTenant(deps, sql);
    await expectError(await api("GET", `/${t.id}/members`, (await newUser(sql)).token), 404, "Not found");
    for (const r of ROLES) expect((await api("GET", `/${t.id}/members`, t.users[r].token)).status).toBe(200);
  });
});

describe("OpenAPI document: the one route style", () => {
  const METHODS = ["get", "post", "put", "patch", "delete"];
  type Operation = {
    operationId?: string; security?: unknown; requestBody?: unknown; responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
    parameters?: { name: string; in: string }[];
  };
  async function operations(app: App) {
    const doc = await (await app.request(`${BASE}/openapi.json`)).json();
    const ops: [string, Operation][] = [];
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, Operation>>)) {
      for (const [method, op] of Object.entries(item)) if (METHODS.includes(method)) ops.push([`${method.toUpperCase()} ${path}`, op]);
    }
    return { doc, ops };
  }

  test("every operation has a unique operationId and bearer security", async ({ app }) => {
    const { doc, ops } = await operations(app);
    expect(ops).toHaveLength(8);
    const ids = ops.map(([, op]) => op.operationId);
    for (const [name, op] of ops) {
      expect(op.operationId, name).toMatch(/^[a-z][A-Za-z]+$/);
      expect(op.security, name).toEqual([{ bearerAuth: [] }]);
      expect(op.responses["401"], name).toBeDefined();
      expect(op.responses["500"], name).toBeDefined();
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
  });

  test("declares 400 and 413 wherever a body is accepted, and 404/403 on every /{id} route", async ({ app }) => {
    const { ops } = await operations(app);
    const withBody = ops.filter(([, op]) => op.requestBody).map(([name]) => name).sort();
    expect(withBody).toEqual(["PATCH /{id}/members/{userId}", "POST /", "POST /{id}/members", "POST /{id}/whatsapp"]);
    for (const [name, op] of ops) {
      if (op.requestBody) {
        expect(op.responses["413"], name).toBeDefined();
        expect(op.responses["400"], name).toBeDefined();
      } else {
        expect(op.responses["413"], name).toBeUndefined();
      }
      if (name.includes("/{id}")) {
        expect(op.responses["404"], name).toBeDefined();
        expect(op.responses["403"], name).toBeDefined();
        expect(op.parameters?.map((p) => `${p.in}:${p.name}`), name).toContain("path:id");
      }
    }
  });

  test("error responses share one Error schema that can carry issues", async ({ app }) => {
    const { doc, ops } = await operations(app);
    expect(Object.keys(doc.components.schemas.Error.properties).sort()).toEqual(["error", "issues", "requestId"]);
    for (const [name, op] of ops) {
      for (const [status, r] of Object.entries(op.responses)) {
        if (Number(status) >= 400) expect(r.content?.["application/json"]?.schema, `${name} ${status}`).toEqual({ $ref: "#/components/schemas/Error" });
      }
    }
  });
});
