// `npm run bench:rls` (not part of npm test): what Row Level Security costs on the Messages page.
//
// 100,000 messages across 100 distributors (100 customers and conversations each, 10 messages
// per conversation) on a throw-away PostgreSQL (PGlite when no server binaries are usable), with
// the real migrations. Each page query runs as the functions do for a member (role edge_user,
// the member's JWT claims, the policies deciding) and as the table owner (RLS not applied), under
// EXPLAIN (ANALYZE, BUFFERS); the report gives the median execution time over BENCH_RLS_RUNS runs,
// the shared buffers touched, and the member/owner ratio (target: at most 2x). The same queries
// are measured once more with the policies of 20261123000300_messaging.sql (a security-definer
// helper called with each row's distributor_id), inside a transaction that is rolled back.
//
//   npm run bench:rls                     BENCH_RLS_RUNS=25 (default)
//   TEST_DATABASE_URL=… npm run bench:rls seeds a fresh database created beside the given one
import postgres from "postgres";
import { prepareDatabase } from "./db/migrate.ts";
import { exitOnSignals, startTestDatabase, type DatabaseServer } from "./db/server.ts";

const RUNS = Number(process.env.BENCH_RLS_RUNS ?? 25);
const DISTRIBUTORS = 100;
const CONVERSATIONS_PER_DISTRIBUTOR = 100;
const MESSAGES_PER_CONVERSATION = 10;
const TARGET_RATIO = 2;

const MEMBER = "0b000000-0000-4000-8000-00000000be0c";
/** Distributor n (1-based) as a UUID. */
const distributorId = (n: number) => `d0000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;

interface Plan {
  "Execution Time": number;
  "Planning Time": number;
  Plan: { "Shared Hit Blocks"?: number; "Shared Read Blocks"?: number; "Actual Rows": number };
}

interface Measure {
  ms: number;
  planningMs: number;
  buffers: number;
  rows: number;
}

async function seed(sql: postgres.Sql): Promise<void> {
  await sql.unsafe(`
    insert into auth.users (id, email)
    select ('a0000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid, 'owner' || n || '@bench.test'
    from generate_series(1, ${DISTRIBUTORS}) n;
    insert into auth.users (id, email) values ('${MEMBER}', 'member@bench.test');

    insert into public.distributors (id, name, created_by)
    select ('d0000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid, 'Distributor ' || n,
           ('a0000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid
    from generate_series(1, ${DISTRIBUTORS}) n;
    insert into public.distributor_members (distributor_id, user_id, role)
    select ('d0000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid,
           ('a0000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid, 'OWNER'
    from generate_series(1, ${DISTRIBUTORS}) n;
    -- The member: OPERATOR of distributor 1 (the one listed), and of four others.
    insert into public.distributor_members (distributor_id, user_id, role)
    select ('d0000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid, '${MEMBER}', 'OPERATOR'
    from generate_series(1, 5) n;

    insert into public.customers (id, distributor_id, wa_id_hash, contact_encrypted, contact_iv, key_version)
    select ('c0000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid,
           ('d0000000-0000-4000-8000-' || lpad(to_hex((n - 1) / ${CONVERSATIONS_PER_DISTRIBUTOR} + 1), 12, '0'))::uuid,
           md5('wa' || n), encode(sha256(n::text::bytea), 'base64'), 'iv', 1
    from generate_series(1, ${DISTRIBUTORS * CONVERSATIONS_PER_DISTRIBUTOR}) n;
    insert into public.conversations (id, distributor_id, customer_id, preview, last_message_at)
    select ('c1000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid, c.distributor_id, c.id,
           'Hello, my number is [PHONE]', now() - make_interval(mins => n)
    from generate_series(1, ${DISTRIBUTORS * CONVERSATIONS_PER_DISTRIBUTOR}) n
    join public.customers c on c.id = ('c0000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid;
    insert into public.messages (distributor_id, conversation_id, external_id, direction, message_type,
                                 content_encrypted, content_iv, key_version, preview, status, created_at)
    select cv.distributor_id, cv.id, 'wamid.' || cv.id || '.' || k, case when k % 2 = 0 then 'inbound' else 'outbound' end, 'text',
           repeat(md5(cv.id::text || k), 4), 'iv', 1, 'Message ' || k || ' about order [ORDER]',
           case when k % 2 = 0 then 'received' else 'sent' end, cv.last_message_at - make_interval(secs => k)
    from public.conversations cv, generate_series(1, ${MESSAGES_PER_CONVERSATION}) k;
  `);
  await sql.unsafe(`analyze`);
}

const QUERIES: { name: string; sql: string }[] = [
  {
    name: "conversations page (GET /conversations, 50 of 100)",
    sql: `select id, customer_id, channel, status, to_json(last_message_at) #>> '{}' as last_message_at, preview
          from public.conversations where distributor_id = '${distributorId(1)}'
          order by last_message_at desc nulls last, id desc limit 51`,
  },
  {
    name: "messages page (GET /conversations/{id}/messages)",
    sql: `with conv as (
            select id from public.conversations where id = 'c1000000-0000-4000-8000-${(1).toString(16).padStart(12, "0")}'
              and distributor_id = '${distributorId(1)}'
          )
          select m.id, m.direction, m.message_type, m.status, m.external_id, m.created_at,
                 m.content_encrypted, m.content_iv, m.key_version
          from public.messages m join conv on conv.id = m.conversation_id
          where m.distributor_id = '${distributorId(1)}' and m.deleted_at is null
          order by m.created_at desc, m.id desc limit 51`,
  },
  {
    name: "latest messages of the distributor (1,000 rows through the policy)",
    sql: `select id, conversation_id, preview, created_at from public.messages
          where distributor_id = '${distributorId(1)}' order by created_at desc, id desc limit 50`,
  },
];

// The policies of 20261123000300_messaging.sql, for the before/after comparison.
const OLD_POLICIES = `
  alter policy conversations_select on public.conversations
    using (distributor_id in (select private.member_distributors()) and (select private.has_permission(distributor_id, 'messages.read')));
  alter policy messages_select on public.messages
    using (distributor_id in (select private.member_distributors()) and (select private.has_permission(distributor_id, 'messages.read')));`;

/** One EXPLAIN ANALYZE in a transaction that is always rolled back (it may have changed policies). */
async function explain(sql: postgres.Sql, query: string, asMember: boolean, setup = ""): Promise<Measure> {
  const conn = await sql.reserve();
  try {
    await conn`begin`;
    if (setup) await conn.unsafe(setup);
    if (asMember) {
      await conn`select set_config('role', 'edge_user', true),
        set_config('request.jwt.claims', ${JSON.stringify({ sub: MEMBER, role: "authenticated" })}, true)`;
    }
    const [row] = await conn.unsafe(`explain (analyze, buffers, format json) ${query}`);
    const plan = (row["QUERY PLAN"] as Plan[])[0];
    return {
      ms: plan["Execution Time"], planningMs: plan["Planning Time"],
      buffers: (plan.Plan["Shared Hit Blocks"] ?? 0) + (plan.Plan["Shared Read Blocks"] ?? 0), rows: plan.Plan["Actual Rows"],
    };
  } finally {
    await conn`rollback`.catch(() => {});
    conn.release();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Owner and member alternate, so a drift of the machine's speed biases neither side. */
async function measure(sql: postgres.Sql, query: string, memberSetup = ""): Promise<{ owner: Measure; member: Measure }> {
  for (let i = 0; i < 3; i++) { // warm-up: caches, plans
    await explain(sql, query, false);
    await explain(sql, query, true, memberSetup);
  }
  const owner: Measure[] = [];
  const member: Measure[] = [];
  for (let i = 0; i < RUNS; i++) {
    owner.push(await explain(sql, query, false));
    member.push(await explain(sql, query, true, memberSetup));
  }
  const summarize = (ms: Measure[]): Measure => ({
    ms: median(ms.map((m) => m.ms)), planningMs: median(ms.map((m) => m.planningMs)),
    buffers: ms[ms.length - 1].buffers, rows: ms[ms.length - 1].rows,
  });
  return { owner: summarize(owner), member: summarize(member) };
}

async function main(): Promise<number> {
  exitOnSignals();
  let server: DatabaseServer | null = null;
  let admin: postgres.Sql | null = null;
  let sql: postgres.Sql | null = null;
  let url: string;
  let dropDb: string | null = null;
  try {
    server = await startTestDatabase();
    url = server.url;
    if (server.kind === "external") {
      // Never seed 100,000 rows into somebody's database: a fresh one beside it.
      dropDb = `bench_rls_${Date.now()}`;
      admin = postgres(url, { max: 1, onnotice: () => {} });
      await admin.unsafe(`create database ${dropDb}`);
      const u = new URL(url);
      u.pathname = `/${dropDb}`;
      url = u.href;
    }
    console.log(`[bench:rls] database: ${server.kind}; seeding ${DISTRIBUTORS * CONVERSATIONS_PER_DISTRIBUTOR * MESSAGES_PER_CONVERSATION} messages across ${DISTRIBUTORS} distributors…`);
    await prepareDatabase(url);
    sql = postgres(url, { max: 1, onnotice: () => {} });
    await seed(sql);
    const [{ version }] = await sql`select split_part(version(), ' on ', 1) as version`;
    console.log(`[bench:rls] ${version}; ${RUNS} runs per side (median execution time)\n`);

    const lines: string[] = [];
    const row = (cells: (string | number)[]) => `| ${cells.join(" | ")} |`;
    lines.push(row(["query", "policies", "owner ms", "member ms", "time ratio", "owner buffers", "member buffers", "buffer ratio", "rows"]));
    lines.push(row(["---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"]));
    let worstTime = 0;
    let worstBuffers = 0;
    for (const q of QUERIES) {
      for (const [label, setup] of [["distributors_with (now)", ""], ["per-row helper (before)", OLD_POLICIES]] as const) {
        const { owner, member } = await measure(sql, q.sql, setup);
        if (owner.rows !== member.rows) throw new Error(`${q.name}: the member saw ${member.rows} rows, the owner ${owner.rows}`);
        const ratio = member.ms / owner.ms;
        const bufferRatio = member.buffers / Math.max(1, owner.buffers);
        if (!setup) {
          worstTime = Math.max(worstTime, ratio);
          worstBuffers = Math.max(worstBuffers, bufferRatio);
        }
        lines.push(row([q.name, label, owner.ms.toFixed(3), member.ms.toFixed(3), `${ratio.toFixed(2)}x`,
          owner.buffers, member.buffers, `${bufferRatio.toFixed(2)}x`, member.rows]));
      }
    }
    console.log(lines.join("\n"));
    const verdict = (r: number) => `${r.toFixed(2)}x (${r <= TARGET_RATIO ? "within" : "ABOVE"} the ${TARGET_RATIO}x target)`;
    console.log(`\n[bench:rls] current policies, worst member/owner ratio: buffers ${verdict(worstBuffers)}, ` +
      `execution time ${verdict(worstTime)}`);

    // The plan of the conversations page as the member, for the record.
    const plan = await sql.begin(async (tx) => {
      await tx`select set_config('role', 'edge_user', true),
        set_config('request.jwt.claims', ${JSON.stringify({ sub: MEMBER, role: "authenticated" })}, true)`;
      return await tx.unsafe(`explain (analyze, buffers, costs off, timing off, summary off) ${QUERIES[0].sql}`);
    });
    console.log(`\n[bench:rls] plan of "${QUERIES[0].name}" as the member:\n${plan.map((r) => `  ${r["QUERY PLAN"]}`).join("\n")}`);
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
  console.error(`[bench:rls] error: ${(err as Error).message}`);
  process.exit(1);
});
