// High-severity incidents → SECURITY_ALERT_WEBHOOK_URL, signed like customer webhooks (Standard
// Webhooks, SECURITY_ALERT_WEBHOOK_SECRET) under the same SSRF rules. Queued by the monitoring
// SQL (private.security_alerts) and sent by the delivery worker's pass; retried on the webhook
// schedule. The body carries the incident's id, type, severity, time and counts, never bodies.
import type { Config } from "../config/index.ts";
import type { Db } from "../db/index.ts";
import type { Logger } from "../log/index.ts";
import { decide } from "../webhooks/schedule.ts";
import { pinnedPost, type Sender } from "../webhooks/send.ts";
import { signHeaders } from "../webhooks/signing.ts";
import { checkTarget, type Resolver, type UrlPolicy } from "../webhooks/ssrf.ts";
import { DELIVERY_TIMEOUT_MS, USER_AGENT } from "../webhooks/worker.ts";

export interface AlertDeps {
  db: Db;
  logger: Logger;
  now: () => Date;
  resolve: Resolver;
  policy: UrlPolicy;
  send?: Sender;
  random?: () => number;
  timeoutMs?: number;
  config: Pick<Config, "SECURITY_ALERT_WEBHOOK_URL" | "SECURITY_ALERT_WEBHOOK_SECRET">;
}

interface Due {
  incident_id: string;
  attempts: number;
  type: string;
  severity: string;
  distributor_id: string | null;
  details: Record<string, unknown>;
  created_at: Date;
}

/** Send due alerts (a few per pass). Returns how many were delivered. */
export async function sendSecurityAlerts(a: AlertDeps): Promise<number> {
  const url = a.config.SECURITY_ALERT_WEBHOOK_URL;
  const secret = a.config.SECURITY_ALERT_WEBHOOK_SECRET;
  if (!url || !secret) return 0;
  const now = a.now();
  const due = await a.db.sql<Due[]>`
    with c as (
      select incident_id from private.security_alerts
      where sent_at is null and next_attempt_at <= ${now}
      order by next_attempt_at limit 10 for update skip locked)
    update private.security_alerts s set attempts = s.attempts + 1, next_attempt_at = ${new Date(now.getTime() + 60_000)}
    from c, public.security_incidents i
    where s.incident_id = c.incident_id and i.id = c.incident_id
    returning s.incident_id, s.attempts, i.type, i.severity, i.distributor_id, i.details, i.created_at`;
  let sent = 0;
  for (const d of due) {
    const counts = Object.fromEntries(Object.entries(d.details ?? {}).filter(([, v]) => typeof v === "number"));
    const body = JSON.stringify({
      type: "security.incident",
      timestamp: d.created_at.toISOString(),
      data: { incident_id: d.incident_id, incident_type: d.type, severity: d.severity, distributor_id: d.distributor_id, ...counts },
    });
    let status: number | null = null;
    try {
      const target = await checkTarget(url, a.policy, a.resolve);
      const res = await (a.send ?? pinnedPost)({
        url: target.url, address: target.addresses[0], body, timeoutMs: a.timeoutMs ?? DELIVERY_TIMEOUT_MS, maxBytes: 1024,
        headers: { "content-type": "application/json", "user-agent": USER_AGENT, ...(await signHeaders([secret], `alert_${d.incident_id}`, now, body)) },
      });
      status = res.status;
    } catch (err) {
      a.logger.warn("security.alert.failed", { incidentId: d.incident_id, errorClass: (err as Error)?.name });
    }
    const o = decide(d.attempts, status, (a.random ?? Math.random)());
    if (o.kind === "delivered") sent++;
    await a.db.sql`
      update private.security_alerts set
        next_attempt_at = ${o.kind === "retry" ? new Date(now.getTime() + o.delaySeconds * 1000) : o.kind === "delivered" ? now : new Date("9999-12-31T00:00:00Z")},
        sent_at = ${o.kind === "delivered" ? now : null}
      where incident_id = ${d.incident_id}`;
  }
  return sent;
}
