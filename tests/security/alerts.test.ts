// High-severity incidents are POSTed to SECURITY_ALERT_WEBHOOK_URL by the delivery worker's
// pass, signed like customer webhooks (verified here with the standardwebhooks package), under
// the same SSRF rules, once.
import { expect } from "vitest";
import { Webhook } from "standardwebhooks";
import { createApp as deliverApp } from "../../functions/webhook-deliver/app.ts";
import { newSigningSecret } from "../../shared/webhooks/signing.ts";
import { test as fixtures } from "../support/fixtures.ts";
import { testDeps } from "../support/harness.ts";
import { startReceiver, stubResolver } from "../webhooks/support.ts";

const CRON = "cron-secret-for-the-alert-tests-0123456789";
const SECRET = newSigningSecret();

const test = fixtures
  /** The alert webhook's receiver. */
  .extend("rx", { scope: "file" }, async ({}, { onCleanup }) => {
    const rx = await startReceiver();
    onCleanup(() => rx.close());
    return rx;
  })
  // Deps whose alert webhook points at the receiver.
  .extend("deps", { scope: "file" }, async ({ rx }, { onCleanup }) => {
    const deps = await testDeps({
      WEBHOOKS_ALLOW_LOOPBACK: "true", ENVIRONMENT: "test", CRON_SECRET: CRON,
      SECURITY_ALERT_WEBHOOK_URL: `${rx.url.replace("127.0.0.1", "alerts.test")}/alerts`, SECURITY_ALERT_WEBHOOK_SECRET: SECRET,
    });
    onCleanup(() => deps.db.end());
    return deps;
  })
  /** One pass of the delivery worker, with the given DNS answers. */
  .extend("pass", { scope: "file" }, async ({ deps }) => (dns: Record<string, string[]>) =>
    Promise.resolve(deliverApp(deps, { resolve: stubResolver(dns) }).request("http://localhost/functions/v1/webhook-deliver", { method: "POST", headers: { authorization: `Bearer ${CRON}` } })));

test("a high incident is POSTed once, signed, with ids and counts only; a private alert address is refused", async ({ sql, rx, pass }) => {
  await sql`update private.security_alerts set sent_at = now() where sent_at is null`; // earlier files' alerts
  const [inc] = await sql`insert into public.security_incidents (type, severity, ip, details)
                          values ('rate_anomaly', 'high', '198.51.100.200', '{"fn":"messages","count":101,"note":"CANARY"}') returning id`;
  await sql`insert into private.security_alerts (incident_id) values (${inc.id})`;
  // The alert URL resolving to a private address: refused, nothing sent, retried later.
  expect((await pass({ "alerts.test": ["10.0.0.9"] })).status).toBe(200);
  expect(rx.received).toHaveLength(0);
  await sql`update private.security_alerts set next_attempt_at = now() where incident_id = ${inc.id}`;
  expect((await pass({ "alerts.test": ["127.0.0.1"] })).status).toBe(200);
  expect(rx.received).toHaveLength(1);
  const got = rx.received[0];
  expect(got.path).toBe("/alerts");
  const body = new Webhook(SECRET).verify(got.body, got.headers) as { type: string; data: Record<string, unknown> };
  expect(body).toMatchObject({ type: "security.incident", data: { incident_id: inc.id, incident_type: "rate_anomaly", severity: "high", count: 101 } });
  expect(got.body).not.toContain("CANARY");
  const [row] = await sql`select sent_at from private.security_alerts where incident_id = ${inc.id}`;
  expect(row.sent_at).not.toBeNull();
  await pass({ "alerts.test": ["127.0.0.1"] });
  expect(rx.received).toHaveLength(1);
});
