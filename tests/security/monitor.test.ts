// Security monitoring (shared/security/monitor.ts, mounted by createFunctionApp on every
// function): per-IP counting at the boundary, blocks on every function and their expiry,
// trusted IPs, Meta's signed traffic never blocked, auth-failure, probing and user-agent
// incidents, no bodies in incidents, and high incidents queued for the alert webhook.
import { describe, expect } from "vitest";
import { createApp as distributorsApp } from "../../functions/distributors/app.ts";
import { createApp as messagesApp } from "../../functions/messages/app.ts";
import { createApp as secretsApp } from "../../functions/manage-user-secrets/app.ts";
import { createApp as whatsappApp } from "../../functions/webhook-whatsapp/app.ts";
import { createApp as webhooksApp } from "../../functions/webhooks/app.ts";
import { test as fixtures } from "../support/fixtures.ts";
import { TEST_WHATSAPP_APP_SECRET, testDeps } from "../support/harness.ts";
import { signedHeaders } from "../support/meta.ts";
import { expectError } from "../support/security.ts";
import { createTenant } from "../support/tenancy.ts";

const LIMIT = 5;
const ips = new Set<string>();
function newIp(): string {
  for (;;) {
    const ip = `198.51.${Math.floor(Math.random() * 100) + 100}.${Math.floor(Math.random() * 250) + 1}`;
    if (!ips.has(ip)) {
      ips.add(ip);
      return ip;
    }
  }
}

type Apps = Record<string, { request: (url: string, init?: RequestInit) => Response | Promise<Response> }>;

const test = fixtures
  // Deps with a low per-IP limit and trusted addresses.
  .extend("deps", { scope: "file" }, async ({}, { onCleanup }) => {
    const deps = await testDeps({ SECURITY_IP_LIMIT: String(LIMIT), SECURITY_BLOCK_SECONDS: "900", SECURITY_TRUSTED_IPS: "192.0.2.0/24,2001:db8::1" });
    onCleanup(() => deps.db.end());
    return deps;
  })
  /** Two distributors shared by the file's tests. */
  .extend("t", { scope: "file" }, async ({ deps, sql }) => await createTenant(deps, sql, "Monitor A"))
  .extend("other", { scope: "file" }, async ({ deps, sql }) => await createTenant(deps, sql, "Monitor B"))
  .extend("apps", { scope: "file" }, async ({ deps }): Promise<Apps> => ({
    webhooks: webhooksApp(deps), distributors: distributorsApp(deps), messages: messagesApp(deps),
    "manage-user-secrets": secretsApp(deps), "webhook-whatsapp": whatsappApp(deps),
  }))
  .extend("get", { scope: "file" }, async ({ apps }) => (fn: string, path: string, ip: string | null, headers: Record<string, string> = {}) =>
    Promise.resolve(apps[fn].request(`http://localhost/functions/v1/${fn}${path}`, { headers: { ...(ip ? { "x-forwarded-for": ip } : {}), ...headers } })))
  .extend("incidents", { scope: "file" }, async ({ sql }) => (ip: string) =>
    sql`select * from public.security_incidents where ip = ${ip}::inet order by created_at`);

describe("per-IP limit", () => {
  test(`${LIMIT} requests pass, request ${LIMIT + 1} opens a rate_anomaly incident and blocks the address on every function`, async ({ sql, t, apps, get, incidents }) => {
    const ip = newIp();
    for (let i = 0; i < LIMIT; i++) {
      const res = await get("webhooks", "/endpoints", ip, { authorization: `Bearer ${t.users.OWNER.token}`, "x-distributor-id": t.id });
      expect(res.status).toBe(200);
    }
    expect(await incidents(ip)).toHaveLength(0);
    const blocked = await get("webhooks", "/endpoints", ip, { authorization: `Bearer ${t.users.OWNER.token}`, "x-distributor-id": t.id });
    const body = await expectError(blocked, 429, "Too many requests");
    expect(body).toEqual({ error: "Too many requests", requestId: expect.any(String) });
    expect(blocked.headers.get("retry-after")).toBe("900");
    const [inc] = await incidents(ip);
    expect(inc).toMatchObject({ type: "rate_anomaly", severity: "high", distributor_id: null });
    expect(inc.details).toEqual({ fn: "webhooks", count: LIMIT + 1, limit: LIMIT, window_seconds: 300, blocked_seconds: 900 });
    // Queued for the alert webhook (severity high).
    expect(await sql`select 1 from private.security_alerts where incident_id = ${inc.id}`).toHaveLength(1);
    // Every function answers 429 to that address, and only to it.
    for (const fn of Object.keys(apps)) {
      const res = await get(fn, "/", ip);
      expect(res.status, fn).toBe(429);
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(890);
    }
    expect((await get("distributors", "", newIp())).status).toBe(401);
    expect(await incidents(ip)).toHaveLength(1); // one incident per window, not one per request
  });

  test("the block expires; then the address starts a new window", async ({ sql, get }) => {
    const ip = newIp();
    for (let i = 0; i <= LIMIT; i++) await get("distributors", "", ip);
    expect((await get("distributors", "", ip)).status).toBe(429);
    // Move the block and the window into the past (the database's clock decides).
    await sql`update private.security_counters set blocked_until = now() - interval '1 second', window_start = now() - interval '301 seconds'
              where key = ${`ip:${ip}`}`;
    expect((await get("distributors", "", ip)).status).toBe(401);
    const [row] = await sql`select hits from private.security_counters where key = ${`ip:${ip}`}`;
    expect(row.hits).toBe(1);
  });

  test("trusted addresses (SECURITY_TRUSTED_IPS) are never counted or blocked; requests without an address are not counted", async ({ deps, sql, get }) => {
    for (let i = 0; i < LIMIT * 3; i++) expect((await get("distributors", "", "192.0.2.77")).status).toBe(401);
    for (let i = 0; i < LIMIT * 2; i++) expect((await get("distributors", "", "2001:db8::1")).status).toBe(401);
    await deps.monitor.flush();
    expect(await sql`select 1 from private.security_counters where key like '%192.0.2.77' or key like '%2001:db8::1'`).toHaveLength(0);
    const before = await sql`select count(*)::int as n from private.security_counters`;
    for (let i = 0; i < 3; i++) await get("distributors", "", null);
    await deps.monitor.flush();
    expect((await sql`select count(*)::int as n from private.security_counters`)[0].n).toBe(before[0].n);
  });

  test("the address comes from the platform's hop only: a client-written X-Forwarded-For entry is not the one counted", async ({ deps, sql, get }) => {
    const real = newIp();
    const forged = newIp();
    await get("distributors", "", `${forged}, ${real}`);
    await deps.monitor.flush();
    expect(await sql`select key from private.security_counters where key in (${`ip:${real}`}, ${`ip:${forged}`})`).toEqual([{ key: `ip:${real}` }]);
  });
});

describe("Meta's signed traffic", () => {
  test("is never blocked, even from a blocked address; a wrong signature from it is", async ({ apps, get }) => {
    const ip = newIp();
    for (let i = 0; i <= LIMIT; i++) await get("distributors", "", ip);
    expect((await get("distributors", "", ip)).status).toBe(429);
    const body = JSON.stringify({ object: "whatsapp_business_account", entry: [] });
    const post = (headers: Record<string, string>) =>
      apps["webhook-whatsapp"].request("http://localhost/functions/v1/webhook-whatsapp", { method: "POST", headers: { ...headers, "x-forwarded-for": ip }, body });
    for (let i = 0; i < LIMIT * 2; i++) {
      const res = await post(signedHeaders(body, TEST_WHATSAPP_APP_SECRET));
      expect(res.status).toBe(200);
    }
    const wrong = await post(signedHeaders(body, "not-the-app-secret"));
    await expectError(wrong, 429, "Too many requests");
  });

  test("signed deliveries are not counted at all (a busy Meta address never becomes an incident)", async ({ deps, sql, apps, incidents }) => {
    const ip = newIp();
    const body = JSON.stringify({ object: "whatsapp_business_account", entry: [] });
    for (let i = 0; i < LIMIT * 2; i++) {
      const res = await apps["webhook-whatsapp"].request("http://localhost/functions/v1/webhook-whatsapp", {
        method: "POST", headers: { ...signedHeaders(body, TEST_WHATSAPP_APP_SECRET), "x-forwarded-for": ip }, body,
      });
      expect(res.status).toBe(200);
    }
    await deps.monitor.flush();
    expect(await incidents(ip)).toHaveLength(0);
    expect(await sql`select 1 from private.security_counters where key = ${`ip:${ip}`}`).toHaveLength(0);
  });
});

describe("other incidents", () => {
  test("repeated bad tokens: auth_failures per IP and per token subject (medium), no token in the details", async ({ incidents }) => {
    const deps2 = await testDeps({ SECURITY_IP_LIMIT: "1000" });
    try {
      const app = distributorsApp(deps2);
      const ip = newIp();
      const sub = crypto.randomUUID();
      const payload = Buffer.from(JSON.stringify({ sub, role: "authenticated" })).toString("base64url");
      const badToken = `eyJhbGciOiJIUzI1NiJ9.${payload}.c2lnbmF0dXJl`;
      for (let i = 0; i < 20; i++) {
        const res = await app.request("http://localhost/functions/v1/distributors", { headers: { "x-forwarded-for": ip, authorization: `Bearer ${badToken}` } });
        expect(res.status).toBe(401);
      }
      expect(await incidents(ip)).toHaveLength(0);
      await app.request("http://localhost/functions/v1/distributors", { headers: { "x-forwarded-for": ip, authorization: `Bearer ${badToken}` } });
      const found = await incidents(ip);
      expect(found.map((i) => [i.type, i.severity, i.details.scope]).sort()).toEqual([["auth_failures", "medium", "ip"], ["auth_failures", "medium", "user"]]);
      expect(found.find((i) => i.details.scope === "user")?.user_id).toBe(sub);
      expect(JSON.stringify(found)).not.toContain(badToken.slice(-12));
    } finally {
      await deps2.db.end();
    }
  });

  test("probing other tenants' ids: tenant_probing after 30 answers of 403/404 to a signed-in caller", async ({ t, other, incidents }) => {
    const deps2 = await testDeps({ SECURITY_IP_LIMIT: "1000" });
    try {
      const app = webhooksApp(deps2);
      const ip = newIp();
      for (let i = 0; i < 31; i++) {
        const res = await app.request(`http://localhost/functions/v1/webhooks/endpoints/${crypto.randomUUID()}/deliveries`, {
          headers: { "x-forwarded-for": ip, authorization: `Bearer ${t.users.OWNER.token}`, "x-distributor-id": other.id },
        });
        expect(res.status).toBe(404);
      }
      const [inc] = await incidents(ip);
      expect(inc).toMatchObject({ type: "tenant_probing", severity: "medium", user_id: t.users.OWNER.id });
      expect(inc.details).toMatchObject({ fn: "webhooks", count: 31, limit: 30 });
    } finally {
      await deps2.db.end();
    }
  });

  test("a known scanner user agent opens bad_user_agent once per window; bodies never reach an incident", async ({ sql, apps, incidents }) => {
    const ip = newIp();
    const canary = "CANARY-body-4b1d";
    for (let i = 0; i < 2; i++) {
      await apps.distributors.request("http://localhost/functions/v1/distributors", {
        method: "POST", headers: { "x-forwarded-for": ip, "user-agent": "sqlmap/1.7.2#stable (https://sqlmap.org)", "content-type": "application/json" },
        body: JSON.stringify({ name: canary }),
      });
    }
    const found = await incidents(ip);
    expect(found.map((i) => i.type)).toEqual(["bad_user_agent"]);
    expect(found[0].details).toMatchObject({ agent: "sqlmap", fn: "distributors" });
    const everything = await sql`select details::text as d from public.security_incidents`;
    expect(everything.map((r) => r.d).join()).not.toContain("CANARY");
  });
});
