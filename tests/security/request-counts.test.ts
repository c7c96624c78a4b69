// The monitor's per-address request counts (shared/security/request-counts.ts): counted in memory
// and added in batches, so a request sends no counting statement of its own. Every statement the
// pool sends is recorded. PostgreSQL keeps the totals of all instances: a second "instance" (a
// second Deps with its own monitor and pool) adds to the same windows, its blocks reach the
// first at the first batch with that address in it, and concurrent overlapping batches neither
// deadlock nor lose hits.
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { createApp as webhooksApp } from "../../functions/webhooks/app.ts";
import { createDb } from "../../shared/db/index.ts";
import { createLogger } from "../../shared/log/index.ts";
import { RequestCounter } from "../../shared/security/request-counts.ts";
import { test as fixtures } from "../support/fixtures.ts";
import { freePort } from "../../scripts/db/server.ts";
import { denoBin, DENO_RUN_FLAGS, root, waitForHttp } from "../../scripts/lib/deno.ts";
import { adminSql, bearer, testConfig, testDeps, testEnv } from "../support/harness.ts";
import { expectError } from "../support/security.ts";
import { createTenant } from "../support/tenancy.ts";

const LIMIT = 20;
const ENDPOINTS = "http://localhost/functions/v1/webhooks/endpoints";
let next = 1;
/** A fresh documentation address (RFC 5737) per test. */
const newIp = () => `203.0.113.${next++}`;

const test = fixtures
  .extend("statements", { scope: "file" }, async () => [] as string[])
  .extend("deps", { scope: "file" }, async ({ statements }, { onCleanup }) => {
    const db = createDb({ url: testConfig().databaseUrl, max: 4, onStatement: (_c, query) => statements.push(query) });
    const deps = await testDeps({ SECURITY_IP_LIMIT: String(LIMIT) }, { db });
    onCleanup(() => db.end());
    return deps;
  });

const hits = async (sql: import("postgres").Sql, ip: string) =>
  (await sql<{ hits: number }[]>`select hits from private.security_counters where key = ${`ip:${ip}`}`)[0]?.hits ?? 0;
const counting = (q: string) => q.includes("private.security_");

describe("counting costs a request no statement", () => {
  test("requests send only their own statements; one batch adds them all", async ({ deps, sql, statements }) => {
    const t = await createTenant(deps, sql, "Counts");
    const app = webhooksApp(deps);
    const headers = bearer(t.users.OWNER.token, { "x-distributor-id": t.id });
    const [a, b] = [newIp(), newIp()];
    await deps.monitor.flush();
    statements.length = 0;
    for (let i = 0; i < 6; i++) {
      expect((await app.request(ENDPOINTS, { headers: { ...headers, "x-forwarded-for": i % 3 ? a : b } })).status).toBe(200);
    }
    expect(statements.length).toBeGreaterThan(0);
    expect(statements.filter(counting)).toEqual([]);
    await deps.monitor.flush();
    expect(statements.filter(counting)).toHaveLength(1);
    expect(statements.filter(counting)[0]).toContain("private.security_add_requests(");
    expect([await hits(sql, a), await hits(sql, b)]).toEqual([4, 2]);
  });

  test("the hits are added by themselves shortly after (no flush asked for)", async ({ deps, sql }) => {
    const ip = newIp();
    const app = webhooksApp(deps);
    expect((await app.request(ENDPOINTS, { headers: { "x-forwarded-for": ip } })).status).toBe(401);
    await expect.poll(() => hits(sql, ip), { timeout: 2000, interval: 20 }).toBe(1);
  });
});

describe("totals across instances", () => {
  test("hits another instance added count toward the limit: the request that crosses it is blocked, exactly", async ({ deps, sql }) => {
    const other = await testDeps({ SECURITY_IP_LIMIT: String(LIMIT) });
    try {
      const ip = newIp();
      const theirs = webhooksApp(other);
      for (let i = 0; i < LIMIT - 5; i++) expect((await theirs.request(ENDPOINTS, { headers: { "x-forwarded-for": ip } })).status).toBe(401);
      await other.monitor.flush();
      const ours = webhooksApp(deps);
      expect((await ours.request(ENDPOINTS, { headers: { "x-forwarded-for": ip } })).status).toBe(401);
      await deps.monitor.flush(); // this instance now knows the total (LIMIT - 4)
      for (let i = 0; i < 4; i++) expect((await ours.request(ENDPOINTS, { headers: { "x-forwarded-for": ip } })).status).toBe(401);
      const crossing = await ours.request(ENDPOINTS, { headers: { "x-forwarded-for": ip } });
      await expectError(crossing, 429, "Too many requests");
      expect(await hits(sql, ip)).toBe(LIMIT + 1);
      const incidents = await sql`select type, details from public.security_incidents where ip = ${ip}::inet`;
      expect(incidents).toEqual([{ type: "rate_anomaly", details: { fn: "webhooks", count: LIMIT + 1, limit: LIMIT, window_seconds: 300, blocked_seconds: 900 } }]);
      // The other instance learns of the block at its next batch with that address in it.
      expect((await theirs.request(ENDPOINTS, { headers: { "x-forwarded-for": ip } })).status).toBe(401);
      await other.monitor.flush();
      await expectError(await theirs.request(ENDPOINTS, { headers: { "x-forwarded-for": ip } }), 429, "Too many requests");
    } finally {
      await other.db.end();
    }
  });

  test("a block lifted in the database lets the next request through", async ({ deps, sql }) => {
    const ip = newIp();
    await sql`insert into private.security_counters (key, window_start, hits, blocked_until) values (${`ip:${ip}`}, now(), 500, now() + interval '10 minutes')`;
    const app = webhooksApp(deps);
    await app.request(ENDPOINTS, { headers: { "x-forwarded-for": ip } });
    await deps.monitor.flush();
    const blocked = await app.request(ENDPOINTS, { headers: { "x-forwarded-for": ip } });
    await expectError(blocked, 429, "Too many requests");
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(590);
    await sql`update private.security_counters set blocked_until = null where key = ${`ip:${ip}`}`;
    expect((await app.request(ENDPOINTS, { headers: { "x-forwarded-for": ip } })).status).toBe(401);
    expect(await hits(sql, ip)).toBe(503);
  });

  test("two instances adding overlapping batches at the same time: no deadlock, no hit lost", async ({ sql }) => {
    const url = testConfig().databaseUrl;
    const warnings: string[] = [];
    const logger = createLogger("warn", (line) => warnings.push(line));
    const dbs = [createDb({ url, max: 2 }), createDb({ url, max: 2 })];
    try {
      const counters = dbs.map((db) => new RequestCounter({ db, logger, limit: 1_000_000, blockSeconds: 900, flushMs: 5 }));
      const ips = Array.from({ length: 40 }, () => newIp().replace("203.0.113.", "198.18.0."));
      await Promise.all(counters.map(async (counter, k) => {
        for (let round = 0; round < 15; round++) {
          // Each instance walks the addresses from a different end.
          for (const ip of k ? [...ips].reverse() : ips) await counter.hit(ip, "race");
          await counter.flush();
        }
      }));
      expect(warnings).toEqual([]);
      const rows = await sql<{ hits: number }[]>`select hits from private.security_counters where key = any(${ips.map((ip) => `ip:${ip}`)})`;
      expect(rows.map((r) => r.hits)).toEqual(ips.map(() => 30));
    } finally {
      await Promise.all(dbs.map((db) => db.end()));
    }
  });
});

describe("an instance that stops", () => {
  it("adds the requests it counted but had not added yet before it exits (SIGTERM)", async () => {
    const ip = "198.51.100.77"; // documentation range; no other test counts it
    const port = await freePort();
    const child = spawn(denoBin, [...DENO_RUN_FLAGS, "functions/webhook-whatsapp/index.ts"], {
      cwd: root, env: { ...process.env, ...testEnv(), PORT: String(port), DENO_NO_UPDATE_CHECK: "1" }, stdio: "ignore",
    });
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    const sql = adminSql();
    try {
      await waitForHttp(`http://127.0.0.1:${port}/`, 60_000, child);
      // One counted request, then SIGTERM at once: well inside the 100 ms before its batch would go out.
      const res = await fetch(`http://127.0.0.1:${port}/webhook-whatsapp`, { headers: { "x-forwarded-for": ip } });
      child.kill("SIGTERM");
      await res.arrayBuffer();
      expect(await exited).toBe(0);
      const rows = await sql<{ hits: number }[]>`select hits from private.security_counters where key = ${`ip:${ip}`}`;
      expect(rows).toEqual([{ hits: 1 }]);
    } finally {
      child.kill("SIGKILL");
      await sql.end();
    }
  }, 90_000);
});
