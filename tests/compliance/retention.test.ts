// Retention: policies per distributor, private.retention_cleanup (bounded, resumable,
// idempotent), retention_runs, and its three triggers: pg_cron (where available), the
// retention-cleanup function (CRON_SECRET or a service-role JWT), npm start's dev job.
import { describe, expect } from "vitest";
import type postgres from "postgres";
import { createApp } from "../../functions/retention-cleanup/app.ts";
import { signDevToken } from "../../scripts/lib/dev-tokens.ts";
import { test as fixtures } from "../support/fixtures.ts";
import { bearer, newUser, TEST_JWT_SECRET, testDeps, testEnv } from "../support/harness.ts";
import { createTenant, type Tenant } from "../support/tenancy.ts";

const CRON_SECRET = "cron-secret-for-the-retention-tests-0123456789";
/** Rows a day inside and a day outside each cutoff, `n` of each, for every policy table. */
const seeder = (sql: postgres.Sql) => async (t: Tenant, days: { messages: number; pii: number; audit: number }, n = 3) => {
  const [cu] = await sql`insert into public.customers (distributor_id) values (${t.id}) returning id`;
  const [cv] = await sql`insert into public.conversations (distributor_id, customer_id) values (${t.id}, ${cu.id}) returning id`;
  for (const [offset, tag] of [[-1, "keep"], [1, "drop"]] as const) {
    const msgAge = days.messages + offset, piiAge = days.pii + offset, auditAge = days.audit + offset;
    const ids = await sql`insert into public.messages (distributor_id, conversation_id, direction, message_type, status, preview, created_at)
      select ${t.id}, ${cv.id}, 'inbound', 'text', 'received', ${tag}, now() - make_interval(days => ${msgAge}) from generate_series(1, ${n}) returning id`;
    // PII results belong to recent messages (kept), so only their own policy decides.
    const [recent] = await sql`insert into public.messages (distributor_id, conversation_id, direction, message_type, status, preview)
      values (${t.id}, ${cv.id}, 'inbound', 'text', 'received', 'recent') returning id`;
    void ids;
    await sql`insert into public.pii_detection_results (distributor_id, message_id, pii_types, counts, created_at)
      select ${t.id}, ${recent.id}, '{email}', ${sql.json({ tag })}, now() - make_interval(days => ${piiAge}) from generate_series(1, ${n})`;
    await sql`insert into public.data_access_audit (distributor_id, action, details, created_at)
      select ${t.id}, 'seed', ${sql.json({ tag })}, now() - make_interval(days => ${auditAge}) from generate_series(1, ${n})`;
    await sql`insert into public.security_incidents (distributor_id, type, severity, details, created_at)
      select ${t.id}, 'seed', 'low', ${sql.json({ tag })}, now() - make_interval(days => ${auditAge}) from generate_series(1, ${n})`;
  }
};

const counter = (sql: postgres.Sql) => async (t: Tenant) => {
  const [r] = await sql`select
    (select count(*) from public.messages where distributor_id = ${t.id} and preview = 'drop')::int as messages_drop,
    (select count(*) from public.messages where distributor_id = ${t.id} and preview in ('keep', 'recent'))::int as messages_keep,
    (select count(*) from public.pii_detection_results where distributor_id = ${t.id} and counts->>'tag' = 'drop')::int as pii_drop,
    (select count(*) from public.pii_detection_results where distributor_id = ${t.id} and counts->>'tag' = 'keep')::int as pii_keep,
    (select count(*) from public.data_access_audit where distributor_id = ${t.id} and details->>'tag' = 'drop')::int as audit_drop,
    (select count(*) from public.data_access_audit where distributor_id = ${t.id} and details->>'tag' = 'keep')::int as audit_keep,
    (select count(*) from public.security_incidents where distributor_id = ${t.id} and details->>'tag' = 'drop')::int as incidents_drop,
    (select count(*) from public.security_incidents where distributor_id = ${t.id} and details->>'tag' = 'keep')::int as incidents_keep`;
  return r;
};

const test = fixtures
  // Deps with a cron secret and small batches.
  .extend("deps", { scope: "file" }, async ({}, { onCleanup }) => {
    const deps = await testDeps({ CRON_SECRET, RETENTION_BATCH_SIZE: "7" });
    onCleanup(() => deps.db.end());
    return deps;
  })
  .extend("app", { scope: "file" }, async ({ deps }) => createApp(deps))
  .extend("run", { scope: "file" }, async ({ app }) => (headers: Record<string, string>) =>
    Promise.resolve(app.request("http://x/functions/v1/retention-cleanup", { method: "POST", headers })))
  .extend("seed", { scope: "file" }, async ({ sql }) => seeder(sql))
  .extend("left", { scope: "file" }, async ({ sql }) => counter(sql));

describe("retention cleanup", () => {
  test("one run leaves exactly the rows inside each distributor's policy; a second deletes nothing; an interrupted run finishes next time", async ({ sql, deps, run, seed, left }) => {
    const a = await createTenant(deps, sql, "Retention A"); // defaults: 730 / 90 / 2555
    const b = await createTenant(deps, sql, "Retention B");
    await sql`insert into public.retention_policies (distributor_id, messages_days, pii_detection_results_days, audit_logs_days)
              values (${b.id}, 60, 10, 400)`;
    // Expired rows left by other test files are cleaned first, so the counts below are this test's.
    await sql`select private.retention_cleanup(1000000, 10000, 'manual')`;
    await seed(a, { messages: 730, pii: 90, audit: 2555 });
    await seed(b, { messages: 60, pii: 10, audit: 400 });
    await sql`insert into public.secret_audit_logs (user_id, operation, success, created_at) values (null, 'read', true, now() - interval '2600 days')`;
    await sql`insert into private.rate_limits (key, window_start, hits) values ('retention-test:old', now() - interval '2 days', 3), ('retention-test:new', now(), 1)`;

    // Interrupted after one batch of 2 rows: partial, recorded as not done.
    const [first] = await sql`select private.retention_cleanup(2, 2, 'manual') as r`;
    expect(first.r).toMatchObject({ total: 2, done: false });
    const [firstRun] = await sql`select done, total, finished_at from public.retention_runs where id = ${first.r.run_id}`;
    expect(firstRun).toMatchObject({ done: false });
    expect(Number(firstRun.total)).toBe(2);

    // The HTTP trigger finishes it (batches of 7 per transaction).
    const res = await run(bearer(CRON_SECRET));
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.done).toBe(true);
    expect(body.batches).toBeGreaterThan(3);
    // 2 tenants × 3 dropped rows per table, minus the 2 the interrupted run took, plus the extras.
    const seeded = 2 * 3 * 4 + 1 + 1;
    expect(body.total + 2).toBe(seeded);
    expect(body.counts.secret_audit_logs).toBe(1);
    expect(body.counts.rate_limits).toBe(1);

    for (const t of [a, b]) {
      expect(await left(t)).toEqual({
        messages_drop: 0, messages_keep: 3 + 2, pii_drop: 0, pii_keep: 3, audit_drop: 0, audit_keep: 3, incidents_drop: 0, incidents_keep: 3,
      });
    }
    const [rl] = await sql`select count(*)::int as n from private.rate_limits where key like 'retention-test:%'`;
    expect(rl.n).toBe(1);
    const [runRow] = await sql`select trigger, done, error, counts, finished_at from public.retention_runs where id = ${body.run_id}`;
    expect(runRow).toMatchObject({ trigger: "http", done: true, error: null });
    expect(runRow.finished_at).not.toBeNull();

    // Idempotent: nothing more to delete.
    const again = await (await run(bearer(CRON_SECRET))).json();
    expect(again).toMatchObject({ total: 0, done: true, counts: {} });
  });

  test("the scheduled procedure commits per batch and records one run", async ({ sql, deps, seed, left }) => {
    const t = await createTenant(deps, sql, "Job Co");
    await seed(t, { messages: 730, pii: 90, audit: 2555 }, 5);
    await sql`call private.retention_cleanup_job('manual', 3)`;
    expect(await left(t)).toMatchObject({ messages_drop: 0, pii_drop: 0, audit_drop: 0, incidents_drop: 0, messages_keep: 5 + 2 });
    const [r] = await sql`select done, total from public.retention_runs where trigger = 'manual' order by started_at desc limit 1`;
    expect(r.done).toBe(true);
  });

  test("pg_cron: scheduled where the extension exists, else the migration says so and applies anyway", async ({ sql }) => {
    const [avail] = await sql`select exists (select 1 from pg_available_extensions where name = 'pg_cron') as yes`;
    const [r] = await sql`select private.schedule_retention_cleanup() as outcome`;
    if (avail.yes) expect(["scheduled", "pg_cron not usable"]).toContain(r.outcome);
    else expect(r.outcome).toBe("pg_cron not available");
    const [applied] = await sql`select count(*)::int as n from supabase_migrations.schema_migrations where version = '20261202003100'`;
    expect(applied.n).toBe(1);
  });
});

describe("POST /functions/v1/retention-cleanup: who may call it", () => {
  test("401 without a bearer, with a wrong secret, a user's JWT, an admin user's JWT or a badly signed service token", async ({ sql, run }) => {
    const user = await newUser(sql);
    const admin = await newUser(sql, { admin: true });
    const forged = await signDevToken("another-secret-that-is-32-chars-long!!", { sub: user.id, role: "service_role" });
    for (const h of [{}, { authorization: "Basic abc" }, bearer(`${CRON_SECRET}x`), bearer(CRON_SECRET.slice(0, -1)), bearer(user.token), bearer(admin.token), bearer(forged)]) {
      const res = await run(h);
      expect(res.status).toBe(401);
      const body = await res.json();
      expect(Object.keys(body).sort()).toEqual(["error", "requestId"]);
    }
  });

  test("a service-role JWT is accepted; without CRON_SECRET configured only that works", async ({ run }) => {
    const service = await signDevToken(TEST_JWT_SECRET, { sub: crypto.randomUUID(), role: "service_role" });
    expect((await run(bearer(service))).status).toBe(200);
    const noSecret = await testDeps();
    try {
      const other = createApp(noSecret);
      const r = await other.request("http://x/functions/v1/retention-cleanup", { method: "POST", headers: bearer(CRON_SECRET) });
      expect(r.status).toBe(401);
    } finally {
      await noSecret.db.end();
    }
  });
});
