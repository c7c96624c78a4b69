// The security monitor's count rides on the request's own database round trip (issue 14;
// shared/security/count.ts): every statement the pool sends is recorded with its connection, so
// these tests see exactly what a request costs. A blocked address is refused before the route's
// statements act, on a fresh instance that has never seen the block (set in the database).
import { describe, expect } from "vitest";
import { createApp as secretsApp } from "../../functions/manage-user-secrets/app.ts";
import { createApp as webhooksApp } from "../../functions/webhooks/app.ts";
import { createDb } from "../../shared/db/index.ts";
import { test as fixtures } from "../support/fixtures.ts";
import { bearer, newUser, testConfig, testDeps } from "../support/harness.ts";
import { expectError } from "../support/security.ts";
import { createTenant } from "../support/tenancy.ts";

const SECRETS = "http://localhost/functions/v1/manage-user-secrets";
const ENDPOINTS = "http://localhost/functions/v1/webhooks/endpoints";
let next = 1;
/** A fresh documentation address (RFC 5737) per request sequence. */
const newIp = () => `203.0.113.${next++}`;

const test = fixtures
  .extend("statements", { scope: "file" }, async () => [] as { connection: number; query: string }[])
  .extend("deps", { scope: "file" }, async ({ statements }, { onCleanup }) => {
    const db = createDb({ url: testConfig().databaseUrl, max: 4, onStatement: (connection, query) => statements.push({ connection, query }) });
    const deps = await testDeps({}, { db });
    onCleanup(() => db.end());
    return deps;
  })
  /** The statements one request sends (the recording starts empty). */
  .extend("sent", { scope: "file" }, async ({ statements }) => async (request: () => Promise<Response> | Response) => {
    statements.length = 0;
    const res = await request();
    return { res, sent: statements.splice(0) };
  });

const isCount = (q: string) => q.includes("private.security_count(");
const block = (sql: import("postgres").Sql, ip: string) =>
  sql`insert into private.security_counters (key, window_start, hits, blocked_until)
      values (${`ip:${ip}`}, now(), 1000, now() + interval '10 minutes')
      on conflict (key) do update set blocked_until = excluded.blocked_until`;

describe("the count costs no round trip of its own", () => {
  test("a transaction: the count goes out on the route's connection right before BEGIN, nothing else is sent", async ({ deps, sql, sent }) => {
    const t = await createTenant(deps, sql, "Round trip");
    const app = webhooksApp(deps);
    const headers = bearer(t.users.OWNER.token, { "x-distributor-id": t.id });
    const without = await sent(() => app.request(ENDPOINTS, { headers }));
    expect(without.res.status).toBe(200);
    const ip = newIp();
    const counted = await sent(() => app.request(ENDPOINTS, { headers: { ...headers, "x-forwarded-for": ip } }));
    expect(counted.res.status).toBe(200);
    // The same statements plus the count, which precedes BEGIN on the same connection; the
    // transaction's set-up statement refuses a blocked address.
    const others = counted.sent.filter((s) => !isCount(s.query)).map((s) => s.query);
    expect(others).toHaveLength(without.sent.length);
    expect(others[1]).toContain("private.security_refuse(");
    expect(others.slice(2)).toEqual(without.sent.slice(2).map((s) => s.query));
    const i = counted.sent.findIndex((s) => isCount(s.query));
    expect(i).toBeGreaterThanOrEqual(0);
    expect(counted.sent.filter((s) => isCount(s.query))).toHaveLength(1);
    expect(counted.sent[i + 1]).toEqual({ connection: counted.sent[i].connection, query: "begin" });
    expect(new Set(counted.sent.map((s) => s.connection))).toEqual(new Set([counted.sent[i].connection]));
    expect(await sql`select hits from private.security_counters where key = ${`ip:${ip}`}`).toEqual([{ hits: 1 }]);
  });

  test("a one-statement request (secrets get): the count is inside that one statement", async ({ deps, sql, sent }) => {
    const u = await newUser(sql);
    const app = secretsApp(deps);
    const save = await app.request(`${SECRETS}?action=save`, {
      method: "POST", headers: bearer(u.token, { "content-type": "application/json" }), body: JSON.stringify({ serviceName: "openai_api_key_encrypted", value: "sk-round-trip" }),
    });
    expect(save.status).toBe(200);
    const ip = newIp();
    const { res, sent: statements } = await sent(() => app.request(`${SECRETS}?action=get&serviceName=openai_api_key_encrypted`, { headers: bearer(u.token, { "x-forwarded-for": ip }) }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ value: "sk-round-trip" });
    expect(statements).toHaveLength(1);
    expect(statements[0].query).toContain("private.read_user_secret(");
    expect(await sql`select hits from private.security_counters where key = ${`ip:${ip}`}`).toEqual([{ hits: 1 }]);
  });

  test("a request that reaches no database (a bad token) is counted once after the route", async ({ deps, sql, sent }) => {
    const ip = newIp();
    const app = webhooksApp(deps);
    const { res, sent: statements } = await sent(() => app.request(ENDPOINTS, { headers: { authorization: "Bearer nope", "x-forwarded-for": ip } }));
    expect(res.status).toBe(401);
    expect(statements.filter((s) => isCount(s.query)).map((s) => s.query.includes("'rate_anomaly'"))).toEqual([true, false]); // then auth_failures
    expect(await sql`select hits from private.security_counters where key = ${`ip:${ip}`}`).toEqual([{ hits: 1 }]);
  });
});

describe("a blocked address, on an instance that has not seen the block", () => {
  test("a write is refused before it acts: 429, no row, and the refusal is counted", async ({ sql, sent }) => {
    const deps = await testDeps();
    try {
      const u = await newUser(sql);
      const ip = newIp();
      await block(sql, ip);
      const { res } = await sent(() => secretsApp(deps).request(`${SECRETS}?action=save`, {
        method: "POST", headers: bearer(u.token, { "content-type": "application/json", "x-forwarded-for": ip }),
        body: JSON.stringify({ serviceName: "openai_api_key_encrypted", value: "sk-blocked" }),
      }));
      await expectError(res, 429, "Too many requests");
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(590);
      expect(await sql`select 1 from public.user_secrets where user_id = ${u.id}`).toHaveLength(0);
      expect(await sql`select hits from private.security_counters where key = ${`ip:${ip}`}`).toEqual([{ hits: 1001 }]);
    } finally {
      await deps.db.end();
    }
  });

  test("a one-statement read is refused inside its statement: 429, no read audited, counted once", async ({ sql }) => {
    const deps = await testDeps();
    try {
      const u = await newUser(sql);
      const app = secretsApp(deps);
      await app.request(`${SECRETS}?action=save`, {
        method: "POST", headers: bearer(u.token, { "content-type": "application/json" }), body: JSON.stringify({ serviceName: "openai_api_key_encrypted", value: "sk-kept" }),
      });
      const ip = newIp();
      await block(sql, ip);
      const res = await app.request(`${SECRETS}?action=get&serviceName=openai_api_key_encrypted`, { headers: bearer(u.token, { "x-forwarded-for": ip }) });
      await expectError(res, 429, "Too many requests");
      expect(await sql`select 1 from public.secret_audit_logs where user_id = ${u.id} and operation = 'read' and success`).toHaveLength(0);
      expect(await sql`select hits from private.security_counters where key = ${`ip:${ip}`}`).toEqual([{ hits: 1001 }]);
    } finally {
      await deps.db.end();
    }
  });

  test("a route without a database gets 429 too, and the instance then refuses the address before any route", async ({ sql }) => {
    const deps = await testDeps();
    try {
      const app = webhooksApp(deps);
      const ip = newIp();
      await block(sql, ip);
      await expectError(await app.request(ENDPOINTS, { headers: { authorization: "Bearer nope", "x-forwarded-for": ip } }), 429, "Too many requests");
      expect(await sql`select 1 from private.security_counters where key = ${`auth:ip:${ip}`}`).toHaveLength(0); // refused, not an auth failure
      await expectError(await app.request(ENDPOINTS, { headers: { "x-forwarded-for": ip } }), 429, "Too many requests");
      // Lifted in the database: the next request goes through (the database has the last word).
      await sql`update private.security_counters set blocked_until = null where key = ${`ip:${ip}`}`;
      expect((await app.request(ENDPOINTS, { headers: { "x-forwarded-for": ip } })).status).toBe(401);
      expect(await sql`select hits from private.security_counters where key = ${`ip:${ip}`}`).toEqual([{ hits: 1003 }]);
    } finally {
      await deps.db.end();
    }
  });
});
