// `npm run bench:retention` (not part of npm test): the retention cleanup and audit-query's page
// at scale, on a throw-away PostgreSQL with the real migrations.
//
// 1. Cleanup: BENCH_RETENTION_MESSAGES (default 1,000,000) expired messages (800+ days old, past
//    the 730-day default) across 10 distributors, plus 10,000 inside policy, generated with SQL.
//    They are cleaned as the retention-cleanup function and the dev job do it
//    (shared/compliance/retention.ts): private.retention_cleanup(batch, batch, …) in its own
//    transaction per batch (BENCH_RETENTION_BATCH, default 1000 = RETENTION_BATCH_SIZE). Reports
//    rows/s and the longest batch: a batch's transaction is the longest any row lock is held
//    (statement duration measured around each call; every call commits before the next).
// 2. audit-query: one distributor's data_access_audit grown to each size of BENCH_AUDIT_ROWS
//    (default 2,000,000,5,000,000,10,000,000; rows spread over two years), and the one-day page
//    audit-query runs (as edge_user with an OWNER's claims: RLS applied), under EXPLAIN ANALYZE:
//    median execution time of 7 runs over different days. Target: well under 100 ms.
//
//   npm run bench:retention
//   BENCH_RETENTION_MESSAGES=200000 BENCH_AUDIT_ROWS=1000000 npm run bench:retention   (quick)
import postgres from "postgres";
import { prepareDatabase } from "./db/migrate.ts";
import { exitOnSignals, startTestDatabase, type DatabaseServer } from "./db/server.ts";

const MESSAGES = Number(process.env.BENCH_RETENTION_MESSAGES ?? 1_000_000);
const BATCH = Number(process.env.BENCH_RETENTION_BATCH ?? 1000);
const AUDIT_SIZES = (process.env.BENCH_AUDIT_ROWS ?? "2000000,5000000,10000000").split(",").map(Number).filter((n) => n > 0);
const DISTRIBUTORS = 10;
const OWNER = "0a000000-0000-4000-8000-0000000000a1";
const dist = (n: number) => `d0000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;
const AUDITED = dist(1);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const fmt = (n: number) => n.toLocaleString("en-US");

async function seedTenants(sql: postgres.Sql) {
  await sql.unsafe(`
    insert into auth.users (id, email) values ('${OWNER}', 'owner@bench.test');
    insert into public.distributors (id, name)
      select ('d0000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid, 'Distributor ' || n from generate_series(1, ${DISTRIBUTORS}) n;
    insert into public.distributor_members (distributor_id, user_id, role) values ('${AUDITED}', '${OWNER}', 'OWNER');
    insert into public.customers (id, distributor_id)
      select ('c0000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid, ('d0000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid
      from generate_series(1, ${DISTRIBUTORS}) n;
    insert into public.conversations (id, distributor_id, customer_id)
      select ('e0000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid, ('d0000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid,
             ('c0000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid
      from generate_series(1, ${DISTRIBUTORS}) n;`);
}

async function seedMessages(sql: postgres.Sql, n: number, expired: boolean) {
  const chunk = 250_000;
  for (let done = 0; done < n; done += chunk) {
    const k = Math.min(chunk, n - done);
    await sql.unsafe(`
      insert into public.messages (distributor_id, conversation_id, direction, message_type, status, preview, content_encrypted, content_iv, key_version, created_at)
      select ('d0000000-0000-4000-8000-' || lpad(to_hex(1 + i % ${DISTRIBUTORS}), 12, '0'))::uuid,
             ('e0000000-0000-4000-8000-' || lpad(to_hex(1 + i % ${DISTRIBUTORS}), 12, '0'))::uuid,
             'inbound', 'text', 'received', 'Hello [PHONE]', md5(i::text), 'iv', 1,
             now() - ${expired ? "interval '800 days'" : "interval '1 day'"} - (i % 100000) * interval '1 minute'
      from generate_series(${done + 1}, ${done + k}) i`);
  }
}

async function cleanup(sql: postgres.Sql) {
  let run: string | null = null;
  let total = 0;
  const durations: number[] = [];
  const started = performance.now();
  for (;;) {
    const t0 = performance.now();
    const rows: { r: { run_id: string; total: number; done: boolean; error?: string } }[] = await sql`
      select private.retention_cleanup(${BATCH}::int, ${BATCH}::int, 'manual', ${run}::uuid) as r`;
    const [r] = rows;
    durations.push(performance.now() - t0);
    if (r.r.error) throw new Error(`cleanup failed: ${r.r.error}`);
    run = r.r.run_id;
    total += Number(r.r.total);
    if (r.r.done) break;
  }
  const seconds = (performance.now() - started) / 1000;
  return { total, seconds, batches: durations.length, max: Math.max(...durations), p50: median(durations), p99: pct(durations, 0.99) };
}

const PAGE = `
  select id, user_id, action, table_name, record_id, host(ip_address) as ip_address, user_agent, details, to_json(created_at) #>> '{}' as created_at
  from public.data_access_audit
  where distributor_id = $1 and created_at >= $2::timestamptz and created_at < $3::timestamptz
  order by data_access_audit.created_at desc, id desc limit 101`; // ordered as audit-query orders: the column, not the text alias

async function pageMs(sql: postgres.Sql): Promise<{ ms: number; plan: string[] }> {
  const times: number[] = [];
  let plan: string[] = [];
  for (let i = 0; i < 7; i++) {
    const day = new Date(Date.now() - (30 + i * 61) * 86_400_000);
    day.setUTCHours(0, 0, 0, 0);
    const to = new Date(day.getTime() + 86_400_000);
    const rows = await sql.begin(async (tx) => {
      await tx`select set_config('role', 'edge_user', true),
        set_config('request.jwt.claims', ${JSON.stringify({ sub: OWNER, role: "authenticated" })}, true)`;
      return await tx.unsafe(`explain (analyze, buffers, format json) ${PAGE}`, [AUDITED, day.toISOString(), to.toISOString()]);
    });
    const j = (rows[0] as Record<string, unknown>)["QUERY PLAN"] as { "Execution Time": number }[];
    times.push(j[0]["Execution Time"]);
    if (i === 0) {
      plan = (await sql.begin(async (tx) => {
        await tx`select set_config('role', 'edge_user', true),
          set_config('request.jwt.claims', ${JSON.stringify({ sub: OWNER, role: "authenticated" })}, true)`;
        return await tx.unsafe(`explain (costs off) ${PAGE}`, [AUDITED, day.toISOString(), to.toISOString()]);
      })).map((r) => `  ${(r as Record<string, string>)["QUERY PLAN"]}`);
    }
  }
  return { ms: median(times), plan };
}

async function growAudit(sql: postgres.Sql, from: number, to: number) {
  const chunk = 1_000_000;
  // Two years of rows for the audited distributor; every tenth row another distributor's.
  for (let done = from; done < to; done += chunk) {
    const k = Math.min(chunk, to - done);
    await sql.unsafe(`
      insert into public.data_access_audit (distributor_id, user_id, action, table_name, record_id, details, created_at)
      select case when i % 10 = 0 then '${dist(2)}'::uuid else '${AUDITED}'::uuid end, '${OWNER}', 'customers.read', 'customers',
             null, '{"count":1}', now() - random() * interval '730 days'
      from generate_series(${done + 1}, ${done + k}) i`);
  }
  await sql.unsafe("analyze public.data_access_audit");
}

async function main(): Promise<number> {
  exitOnSignals();
  let server: DatabaseServer | null = null;
  let admin: postgres.Sql | null = null;
  let sql: postgres.Sql | null = null;
  let dropDb: string | null = null;
  try {
    server = await startTestDatabase();
    let url = server.url;
    if (server.kind === "external") {
      dropDb = `bench_retention_${Date.now()}`;
      admin = postgres(url, { max: 1, onnotice: () => {} });
      await admin.unsafe(`create database ${dropDb}`);
      const u = new URL(url);
      u.pathname = `/${dropDb}`;
      url = u.href;
    }
    await prepareDatabase(url);
    sql = postgres(url, { max: 1, onnotice: () => {} });
    const [{ version }] = await sql`select split_part(version(), ' on ', 1) as version`;
    console.log(`[bench:retention] ${server.kind}: ${version}`);
    await seedTenants(sql);

    // 1. The cleanup.
    let t0 = performance.now();
    await seedMessages(sql, MESSAGES, true);
    await seedMessages(sql, 10_000, false);
    await sql.unsafe("analyze public.messages");
    console.log(`[bench:retention] seeded ${fmt(MESSAGES)} expired + 10,000 kept messages in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const c = await cleanup(sql);
    const [{ left, kept }] = await sql`select count(*) filter (where created_at < now() - interval '730 days')::int as left,
                                              count(*) filter (where created_at >= now() - interval '730 days')::int as kept from public.messages`;
    console.log(`[bench:retention] cleanup: ${fmt(c.total)} rows in ${c.seconds.toFixed(1)} s = ${fmt(Math.round(c.total / c.seconds))} rows/s; ` +
      `${fmt(c.batches)} batches of ≤ ${BATCH} rows, one transaction each: median ${c.p50.toFixed(1)} ms, p99 ${c.p99.toFixed(1)} ms, ` +
      `longest ${c.max.toFixed(1)} ms (the longest any row lock was held); left past policy: ${left}, kept: ${fmt(kept)}`);
    if (left !== 0 || kept !== 10_000) throw new Error("the cleanup did not leave exactly the rows inside policy");

    // 2. audit-query's one-day page.
    let have = 0;
    for (const size of AUDIT_SIZES) {
      t0 = performance.now();
      await growAudit(sql, have, size);
      have = size;
      const seeded = (performance.now() - t0) / 1000;
      const p = await pageMs(sql);
      console.log(`[bench:retention] data_access_audit ${fmt(size)} rows (${fmt(Math.round(size * 0.9))} of the audited distributor; +${seeded.toFixed(0)} s to generate): ` +
        `one-day page (101 rows, as edge_user, RLS on) median execution ${p.ms.toFixed(3)} ms (${p.ms < 100 ? "well under" : "ABOVE"} the 100 ms target)`);
      if (size === AUDIT_SIZES[AUDIT_SIZES.length - 1]) console.log(`[bench:retention] plan:\n${p.plan.join("\n")}`);
    }
    return 0;
  } finally {
    await sql?.end();
    if (admin && dropDb) {
      await admin.unsafe(`drop database if exists ${dropDb} with (force)`).catch(() => {});
      await admin.end();
    }
    await server?.stop();
  }
}

main().then((code) => process.exit(code), (err) => {
  console.error(err);
  process.exit(1);
});
