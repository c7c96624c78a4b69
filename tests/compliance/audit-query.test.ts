// audit-query: own secret audit, a distributor's data-access audit, security incidents, the
// compliance report and the retention policy; every read of an audit log is itself audited.
import { describe, expect } from "vitest";
import { createApp } from "../../functions/audit-query/app.ts";
import { encodeCursor } from "../../shared/http/cursor.ts";
import { test as fixtures } from "../support/fixtures.ts";
import { bearer, newUser } from "../support/harness.ts";
import { authenticationCases, expectError } from "../support/security.ts";
import { createTenant, type Tenant } from "../support/tenancy.ts";

const base = "http://x/functions/v1/audit-query";
const as = (token: string, distributor?: string) => bearer(token, distributor ? { "x-distributor-id": distributor } : {});

const test = fixtures
  .extend("app", { scope: "file" }, async ({ deps }) => createApp(deps))
  /** Two distributors shared by the file's tests. */
  .extend("a", { scope: "file" }, async ({ deps, sql }) => await createTenant(deps, sql, "Audit A"))
  .extend("b", { scope: "file" }, async ({ deps, sql }) => await createTenant(deps, sql, "Audit B"))
  .extend("get", { scope: "file" }, async ({ app }) => (path: string, headers: Record<string, string>) =>
    Promise.resolve(app.request(`${base}${path}`, { headers })))
  .extend("put", { scope: "file" }, async ({ app }) => (headers: Record<string, string>, body: unknown) =>
    Promise.resolve(app.request(`${base}/retention-policy`, { method: "PUT", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify(body) })));

// authenticationCases registers plain `it`s: they reach the file's fixtures through this hook.
const forAuthCases = {} as { a: Tenant; get: (path: string, headers: Record<string, string>) => Promise<Response>; put: (headers: Record<string, string>, body: unknown) => Promise<Response> };
test.beforeAll(({ a, get, put }) => {
  Object.assign(forAuthCases, { a, get, put });
});

describe("GET /secrets", () => {
  authenticationCases("GET /secrets", (h) => forAuthCases.get("/secrets", h));

  test("lists only the caller's own rows, filtered, in keyset pages, and audits the read", async ({ sql, get }) => {
    const u = await newUser(sql);
    const other = await newUser(sql);
    await sql`insert into public.secret_audit_logs (user_id, service_name, operation, success, created_at)
              select ${u.id}, 'openai_api_key_encrypted', case when i % 2 = 0 then 'read' else 'create' end, i % 3 <> 0,
                     now() - make_interval(mins => i) from generate_series(1, 7) i`;
    await sql`insert into public.secret_audit_logs (user_id, service_name, operation, success) values (${other.id}, 'x', 'read', true)`;
    const p1 = await get("/secrets?limit=3", as(u.token));
    expect(p1.status).toBe(200);
    expect(p1.headers.get("cache-control")).toBe("no-store");
    const b1 = await p1.json();
    expect(b1.items).toHaveLength(3);
    expect(b1.next_cursor).toEqual(expect.any(String));
    const p2 = await (await get(`/secrets?limit=3&cursor=${b1.next_cursor}`, as(u.token))).json();
    const p3 = await (await get(`/secrets?limit=3&cursor=${p2.next_cursor}`, as(u.token))).json();
    const ids = [...b1.items, ...p2.items, ...p3.items].map((r: { id: string }) => r.id);
    expect(new Set(ids).size).toBe(7);
    expect(p3.next_cursor).toBeNull();
    const reads = await (await get("/secrets?operation=read&success=true", as(u.token))).json();
    expect(reads.items.map((r: { operation: string; success: boolean }) => [r.operation, r.success]))
      .toEqual([["read", true], ["read", true]]); // i = 2, 4 (6 fails: 6 % 3 = 0)
    const audit = await sql`select distributor_id, action, table_name, details from public.data_access_audit where user_id = ${u.id} order by created_at`;
    expect(audit).toHaveLength(4);
    expect(audit[0]).toMatchObject({ distributor_id: null, action: "audit.read_secrets", table_name: "secret_audit_logs" });
    expect(audit[0].details).toMatchObject({ count: 3, format: "json" });
  });

  test("refuses a window over 366 days, a reversed one and a forged cursor (400)", async ({ sql, get }) => {
    const u = await newUser(sql);
    await expectError(await get("/secrets?from=2024-01-01T00:00:00Z&to=2025-06-01T00:00:00Z", as(u.token)), 400, "Invalid request", [{ in: "query", path: "from" }]);
    await expectError(await get("/secrets?from=2025-01-02T00:00:00Z&to=2025-01-01T00:00:00Z", as(u.token)), 400, "Invalid request");
    await expectError(await get("/secrets?from=yesterday", as(u.token)), 400, "Invalid request", [{ in: "query", path: "from" }]);
    await expectError(await get("/secrets?cursor=bm90LWEtY3Vyc29y", as(u.token)), 400, "Invalid request", [{ in: "query", path: "cursor" }]);
    // The shared cursor module's strict timestamps: no 30 February, no 25:00, no +15:00 offset.
    for (const ts of ["2026-02-30T10:00:00Z", "2026-01-01T25:00:00Z", "2026-01-01T10:00:00+15:00"]) {
      const forged = encodeCursor(ts, crypto.randomUUID());
      await expectError(await get(`/secrets?cursor=${forged}`, as(u.token)), 400, "Invalid request", [{ in: "query", path: "cursor" }]);
    }
    await expectError(await get("/secrets?limit=501", as(u.token)), 400, "Invalid request", [{ in: "query", path: "limit" }]);
  });
});

describe("GET /data-access", () => {
  authenticationCases("GET /data-access", (h) => forAuthCases.get("/data-access", { ...h, "x-distributor-id": forAuthCases.a.id }));

  test("OWNER and ADMIN read their distributor's rows only; MANAGER 403; another tenant's id 404", async ({ sql, a, b, get }) => {
    const rec = crypto.randomUUID();
    await sql`insert into public.data_access_audit (distributor_id, user_id, action, table_name, record_id, details)
              values (${a.id}, ${a.users.MANAGER.id}, 'customers.read', 'customers', ${rec}, '{"count":1}'),
                     (${a.id}, ${a.users.OPERATOR.id}, 'messages.read', 'messages', null, '{}'),
                     (${b.id}, ${b.users.OWNER.id}, 'customers.read', 'customers', null, '{}')`;
    for (const role of ["OWNER", "ADMIN"] as const) {
      const res = await get(`/data-access?action=customers.read&user_id=${a.users.MANAGER.id}`, as(a.users[role].token, a.id));
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(body.items).toHaveLength(1);
      expect(body.items[0]).toMatchObject({ action: "customers.read", record_id: rec, table_name: "customers", details: { count: 1 } });
    }
    const all = await (await get("/data-access?limit=500", as(a.users.OWNER.token, a.id))).json();
    expect(all.items.every((r: { user_id: string }) => r.user_id !== b.users.OWNER.id)).toBe(true);
    await expectError(await get("/data-access", as(a.users.MANAGER.token, a.id)), 403, "Forbidden");
    await expectError(await get("/data-access", as(a.users.OPERATOR.token, a.id)), 403, "Forbidden");
    await expectError(await get("/data-access", as(a.users.OWNER.token, b.id)), 404, "Not found");
    await expectError(await get("/data-access", as(a.users.OWNER.token)), 400, "Invalid request");
    const [audit] = await sql`select count(*)::int as n from public.data_access_audit
                              where distributor_id = ${a.id} and action = 'audit.read_data_access' and user_id = ${a.users.ADMIN.id}`;
    expect(audit.n).toBe(1);
  });

  test("format=csv streams every row of the window across pages, injection-safe", async ({ sql, deps, get }) => {
    const t = await createTenant(deps, sql, "CSV Co");
    await sql`insert into public.data_access_audit (distributor_id, user_id, action, table_name, details, created_at)
              select ${t.id}, ${t.users.OWNER.id}, 'customers.read', case when i = 1 then '=HYPERLINK("x")' else 'customers' end, '{}',
                     now() - make_interval(secs => i) from generate_series(1, 2300) i`;
    const res = await get("/data-access?format=csv", as(t.users.OWNER.token, t.id));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/csv");
    const text = await res.text();
    const lines = text.split("\r\n").filter(Boolean);
    expect(lines[0]).toBe("id,created_at,user_id,action,table_name,record_id,ip_address,user_agent,details");
    expect(lines).toHaveLength(2301);
    expect(new Set(lines.slice(1).map((l) => l.split(",")[0])).size).toBe(2300);
    expect(text).toContain(`"'=HYPERLINK(""x"")"`);
    expect(text).not.toMatch(/,=HYPERLINK/);
  });

  test("a one-day page on a large table uses the keyset index (EXPLAIN)", async ({ sql, deps }) => {
    const t = await createTenant(deps, sql, "Big audit");
    await sql`insert into public.data_access_audit (distributor_id, user_id, action, created_at)
              select ${t.id}, ${t.users.OWNER.id}, 'messages.read', now() - make_interval(mins => i) from generate_series(1, 20000) i`;
    await sql`analyze public.data_access_audit`;
    const plan = await sql.begin(async (tx) => {
      await tx`set local enable_seqscan = off`;
      return await tx.unsafe(`explain (format json)
        select id from public.data_access_audit
        where distributor_id = '${t.id}' and created_at >= now() - interval '1 day' and created_at < now()
        order by created_at desc, id desc limit 101`);
    });
    const text = JSON.stringify(plan);
    expect(text).toContain("data_access_audit_page_idx");
    expect(text).not.toContain('"Sort"');
  });
});

describe("GET /security-incidents", () => {
  authenticationCases("GET /security-incidents", (h) => forAuthCases.get("/security-incidents", { ...h, "x-distributor-id": forAuthCases.a.id }));

  test("OWNER/ADMIN see their distributor's; platform admins all; user_metadata.role=admin gains nothing", async ({ sql, deps, a, b, get }) => {
    await sql`insert into public.security_incidents (distributor_id, type, severity, ip, details)
              values (${a.id}, 'brute_force', 'high', '203.0.113.9', '{"attempts":12}'),
                     (${b.id}, 'token_reuse', 'critical', null, '{}'),
                     (null, 'platform_scan', 'low', null, '{}')`;
    const owner = await (await get("/security-incidents", as(a.users.ADMIN.token, a.id))).json();
    expect(owner.items.map((i: { type: string }) => i.type)).toEqual(["brute_force"]);
    expect(owner.items[0]).toMatchObject({ ip: "203.0.113.9", severity: "high", resolved_at: null });
    await expectError(await get("/security-incidents", as(a.users.MANAGER.token, a.id)), 403, "Forbidden");
    await expectError(await get("/security-incidents", as(a.users.OWNER.token)), 403, "Forbidden");

    const admin = await newUser(sql, { admin: true });
    const all = await (await get("/security-incidents?severity=critical", as(admin.token))).json();
    expect(all.items.map((i: { type: string }) => i.type)).toContain("token_reuse");
    const every = await (await get("/security-incidents?limit=500", as(admin.token))).json();
    expect(every.items.map((i: { type: string }) => i.type)).toEqual(expect.arrayContaining(["brute_force", "token_reuse", "platform_scan"]));
    const [audited] = await sql`select count(*)::int as n from public.data_access_audit where user_id = ${admin.id} and action = 'audit.read_incidents'`;
    expect(audited.n).toBe(2);

    const sneaky = await newUser(sql, { extraClaims: { user_metadata: { role: "admin" } } });
    await expectError(await get("/security-incidents", as(sneaky.token)), 403, "Forbidden");
    // Even in SQL, the policy ignores user_metadata.
    const rows = await deps.db.withUser({ id: sneaky.id, claims: { sub: sneaky.id, role: "authenticated", user_metadata: { role: "admin" } } },
      (tx) => tx`select count(*)::int as n from public.security_incidents`);
    expect(rows[0].n).toBe(0);
  });
});

describe("GET /compliance-report", () => {
  authenticationCases("GET /compliance-report", (h) => forAuthCases.get("/compliance-report", { ...h, "x-distributor-id": forAuthCases.a.id }));

  test("is computed: non_compliant with reasons when something is overdue, compliant once nothing is", async ({ sql, deps, a, get }) => {
    const t = await createTenant(deps, sql, "Report Co");
    const [cu] = await sql`insert into public.customers (distributor_id) values (${t.id}) returning id`;
    const [cv] = await sql`insert into public.conversations (distributor_id, customer_id) values (${t.id}, ${cu.id}) returning id`;
    await sql`insert into public.messages (distributor_id, conversation_id, direction, message_type, status, created_at)
              values (${t.id}, ${cv.id}, 'inbound', 'text', 'received', now() - interval '800 days'),
                     (${t.id}, ${cv.id}, 'inbound', 'text', 'received', now())`;
    const [pr] = await sql`insert into public.privacy_requests (distributor_id, customer_id, type, status, created_at)
              values (${t.id}, ${cu.id}, 'export', 'pending', now() - interval '40 days') returning id`;
    await sql`insert into public.privacy_requests (distributor_id, customer_id, type, status, completed_at)
              values (${t.id}, ${cu.id}, 'erase', 'completed', now())`;

    const bad = await get("/compliance-report?type=ccpa", as(t.users.ADMIN.token, t.id));
    expect(bad.status).toBe(200);
    const r1 = await bad.json();
    expect(r1).toMatchObject({ type: "ccpa", compliance_status: "non_compliant", messages_processed: 2, pii_detections: 0 });
    expect(r1.privacy_requests).toMatchObject({ export_completed: 0, erase_completed: 1 });
    expect(r1.privacy_requests.pending[0]).toMatchObject({ id: pr.id, age_days: 40 });
    expect(r1.reasons.join("\n")).toMatch(/messages: 1 rows past the 730-day retention/);
    expect(r1.reasons.join("\n")).toMatch(/pending for 40 days/);
    expect(r1.retention.find((x: { table_name: string }) => x.table_name === "messages")).toMatchObject({ expired_rows: 1, retention_days: 730 });

    await sql`delete from public.messages where distributor_id = ${t.id} and created_at < now() - interval '730 days'`;
    await sql`update public.privacy_requests set status = 'completed', completed_at = now() where id = ${pr.id}`;
    await sql`insert into public.retention_runs (trigger, finished_at, done) values ('manual', now(), true)`;
    const r2 = await (await get("/compliance-report", as(t.users.OWNER.token, t.id))).json();
    expect(r2).toMatchObject({ type: "gdpr", compliance_status: "compliant", reasons: [], messages_processed: 1 });
    expect(r2.privacy_requests.export_completed).toBe(1);

    // A cleanup that last ran three days ago is overdue again.
    await sql`update public.retention_runs set finished_at = now() - interval '3 days'`;
    const r3 = await (await get("/compliance-report", as(t.users.OWNER.token, t.id))).json();
    expect(r3.compliance_status).toBe("non_compliant");
    expect(r3.reasons.join("\n")).toMatch(/retention cleanup last ran/);

    await expectError(await get("/compliance-report", as(t.users.MANAGER.token, t.id)), 403, "Forbidden");
    await expectError(await get("/compliance-report", as(a.users.OWNER.token, t.id)), 404, "Not found");
    await expectError(await get("/compliance-report?type=hipaa", as(t.users.OWNER.token, t.id)), 400, "Invalid request");
  });
});

describe("retention policy", () => {
  authenticationCases("GET /retention-policy", (h) => forAuthCases.get("/retention-policy", { ...h, "x-distributor-id": forAuthCases.a.id }));
  authenticationCases("PUT /retention-policy", (h) => forAuthCases.put({ ...h, "x-distributor-id": forAuthCases.a.id }, { messages_days: 400 }));

  test("defaults, changed by the OWNER with aal2 within bounds (audit logs never below 365 days)", async ({ sql, deps, b, get, put }) => {
    const t = await createTenant(deps, sql, "Policy Co");
    expect(await (await get("/retention-policy", as(t.users.ADMIN.token, t.id))).json())
      .toEqual({ messages_days: 730, ai_responses_days: 365, audit_logs_days: 2555, pii_detection_results_days: 90 });
    await expectError(await put(as(t.users.OWNER.token, t.id), { messages_days: 400 }), 403, "Multi-factor authentication required");
    await expectError(await put(as(t.users.ADMIN.mfaToken, t.id), { messages_days: 400 }), 403, "Forbidden");
    await expectError(await put(as(t.users.OWNER.mfaToken, b.id), { messages_days: 400 }), 404, "Not found");
    await expectError(await put(as(t.users.OWNER.mfaToken, t.id), { audit_logs_days: 364 }), 400, "Invalid request", [{ in: "body", path: "audit_logs_days" }]);
    await expectError(await put(as(t.users.OWNER.mfaToken, t.id), { messages_days: 29 }), 400, "Invalid request");
    const ok = await put(as(t.users.OWNER.mfaToken, t.id), { messages_days: 400 });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ messages_days: 400, ai_responses_days: 365, audit_logs_days: 2555, pii_detection_results_days: 90 });
    const again = await (await put(as(t.users.OWNER.mfaToken, t.id), { audit_logs_days: 365 })).json();
    expect(again).toMatchObject({ messages_days: 400, audit_logs_days: 365 });
    const [row] = await sql`select messages_days, audit_logs_days, updated_by from public.retention_policies where distributor_id = ${t.id}`;
    expect(row).toEqual({ messages_days: 400, audit_logs_days: 365, updated_by: t.users.OWNER.id });
    const [audit] = await sql`select count(*)::int as n from public.data_access_audit where distributor_id = ${t.id} and action = 'retention.update'`;
    expect(audit.n).toBe(2);
  });
});
