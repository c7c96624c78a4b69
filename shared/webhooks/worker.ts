// One pass of the delivery worker (webhook-deliver, scheduled):
//
// 1. Fan-out: outbox events not yet dispatched (claimed FOR UPDATE SKIP LOCKED, in creation
//    order) become one webhook_deliveries row per enabled endpoint of the distributor subscribed
//    to the event type (unique (event, endpoint): a second fan-out of one event adds nothing).
// 2. Claim: due deliveries of enabled endpoints, FOR UPDATE SKIP LOCKED in small batches; the
//    claim itself counts the attempt and leases the row (next_attempt_at moves past the request
//    timeout), so two workers never make the same attempt; (delivery, attempt_no) is unique too.
// 3. Each claimed attempt: re-resolve the host and refuse any non-public address (DNS
//    rebinding), POST to the checked address with Standard Webhooks signatures (two during a
//    secret rotation), 15 s timeout, no redirects, at most 64 KB of the answer read.
// 4. Record: the attempt row, the delivery's new state (delivered / retry at a jittered time /
//    dead letter), the endpoint's health (410 disables at once; only failures for 5 days
//    disables it and leaves a notice in security_incidents for its OWNERs) — one statement.
//
// The clock (`now`) and randomness are injected: tests drive the schedule with their own.
import type { Db } from "../db/index.ts";
import type { Logger } from "../log/index.ts";
import { openFor, type DistributorKeyCache } from "../tenancy/keys.ts";
import { decide, FAILING_DISABLE_SECONDS, parseRetryAfter } from "./schedule.ts";
import { pinnedPost, SendError, type Sender } from "./send.ts";
import { signHeaders } from "./signing.ts";
import { checkTarget, UrlRefused, type Resolver, type UrlPolicy } from "./ssrf.ts";

export const DELIVERY_TIMEOUT_MS = 15_000;
export const MAX_RESPONSE_BYTES = 64 * 1024;
export const EXCERPT_CHARS = 1024;
/** A claimed attempt is leased this long (more than the timeout): a crashed worker's rows come back. */
export const LEASE_SECONDS = 60;
export const USER_AGENT = "Webhooks/1.0 (+https://www.standardwebhooks.com)";

export interface WorkerDeps {
  db: Db;
  tenantKeys: DistributorKeyCache;
  logger: Logger;
  now: () => Date;
  resolve: Resolver;
  policy: UrlPolicy;
  send?: Sender;
  random?: () => number;
  timeoutMs?: number;
  /** Deliveries claimed per pass (and outbox events fanned out per pass). */
  batchSize?: number;
  /** Attempts in flight at once within a pass. */
  concurrency?: number;
}

export interface PassResult {
  claimed: number;
  delivered: number;
  failed: number;
}

interface Claimed {
  id: string;
  distributor_id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  payload: Record<string, unknown>;
  attempt_count: number;
  schedule_base: number;
  created_at: Date;
  url: string;
  secret_encrypted: string;
  secret_iv: string;
  secret_key_version: number;
  previous_secret_encrypted: string | null;
  previous_secret_iv: string | null;
  previous_secret_key_version: number | null;
  previous_expires_at: Date | null;
}

/** Only ids and types leave: keys named id, *_id, type, *_type, channel, direction, status. */
export function publicData(payload: Record<string, unknown>): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(payload)) {
    if (!/^(id|[a-z_]+_id|type|[a-z_]+_type|channel|direction|status)$/.test(k)) continue;
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") out[k] = v;
  }
  return out;
}

/** The request body: the Standard Webhooks payload shape. */
export function eventBody(d: Pick<Claimed, "event_type" | "created_at" | "payload" | "event_id">): string {
  return JSON.stringify({ type: d.event_type, timestamp: d.created_at.toISOString(), data: { event_id: d.event_id, ...publicData(d.payload) } });
}

/** At most 1 KB of the answer, storable as text; none when it echoes what we sent (our data). */
export function safeExcerpt(answer: string, sent: string, ids: string[]): string | null {
  if (!answer) return null;
  if (answer.includes(sent) || ids.some((id) => id.length >= 8 && answer.includes(id))) return null;
  // No NUL, no lone surrogate (a cut may split a pair): what PostgreSQL text stores as given.
  return answer.slice(0, EXCERPT_CHARS).replace(/\u0000/g, "")
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD");
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  }));
  return out;
}

/** Outbox → deliveries. Returns the number of events dispatched. */
export async function fanOut(w: WorkerDeps): Promise<number> {
  const now = w.now();
  const batch = w.batchSize ?? 50;
  const [r] = await w.db.sql<{ events: number }[]>`
    with ev as (
      select id, distributor_id, event_type, payload from public.event_outbox
      where delivered_at is null
      order by created_at, id
      limit ${batch}
      for update skip locked
    ), ins as (
      insert into public.webhook_deliveries (distributor_id, endpoint_id, event_id, event_type, payload, next_attempt_at, created_at, updated_at)
      select ev.distributor_id, e.id, ev.id, ev.event_type, ev.payload, ${now}, ${now}, ${now}
      from ev join public.webhook_endpoints e
        on e.distributor_id = ev.distributor_id and e.enabled and ev.event_type = any(e.events)
      on conflict (event_id, endpoint_id) do nothing
      returning 1
    ), done as (
      update public.event_outbox o set delivered_at = ${now}, attempts = o.attempts + 1
      from ev where o.id = ev.id
      returning 1
    )
    select (select count(*) from done)::int as events, (select count(*) from ins)::int as deliveries`;
  return r.events;
}

/** Claim due attempts: counted and leased in the claiming statement. */
export async function claim(w: WorkerDeps): Promise<Claimed[]> {
  const now = w.now();
  const lease = new Date(now.getTime() + LEASE_SECONDS * 1000);
  return await w.db.sql<Claimed[]>`
    with c as (
      select d.id from public.webhook_deliveries d
      where d.status = 'pending' and d.next_attempt_at <= ${now}
        and exists (select 1 from public.webhook_endpoints e where e.id = d.endpoint_id and e.enabled)
      order by d.next_attempt_at, d.id
      limit ${w.batchSize ?? 50}
      for update of d skip locked
    )
    update public.webhook_deliveries d
    set attempt_count = d.attempt_count + 1, next_attempt_at = ${lease}, updated_at = ${now}
    from c, public.webhook_endpoints e
    where d.id = c.id and e.id = d.endpoint_id
    returning d.id, d.distributor_id, d.endpoint_id, d.event_id, d.event_type, d.payload, d.attempt_count, d.schedule_base, d.created_at,
              e.url, e.secret_encrypted, e.secret_iv, e.secret_key_version, e.previous_secret_encrypted, e.previous_secret_iv,
              e.previous_secret_key_version, e.previous_expires_at`;
}

interface AttemptResult {
  status: number | null;
  errorClass: string | null;
  excerpt: string | null;
  retryAfter: number | null;
}

async function secretsOf(w: WorkerDeps, d: Claimed, now: Date): Promise<string[]> {
  const keys = await w.tenantKeys.get(d.distributor_id);
  const current = await openFor(keys, "webhook_endpoints", d.endpoint_id,
    { encryptedValue: d.secret_encrypted, iv: d.secret_iv, keyVersion: d.secret_key_version });
  const out = [current];
  if (d.previous_secret_encrypted && d.previous_secret_iv && d.previous_secret_key_version && d.previous_expires_at && d.previous_expires_at > now) {
    out.push(await openFor(keys, "webhook_endpoints", d.endpoint_id,
      { encryptedValue: d.previous_secret_encrypted, iv: d.previous_secret_iv, keyVersion: d.previous_secret_key_version }));
  }
  return out;
}

async function attemptOnce(w: WorkerDeps, d: Claimed, now: Date): Promise<AttemptResult> {
  const body = eventBody(d);
  try {
    const target = await checkTarget(d.url, w.policy, w.resolve); // again, before every attempt
    const signed = await signHeaders(await secretsOf(w, d, now), d.id, now, body);
    const res = await (w.send ?? pinnedPost)({
      url: target.url, address: target.addresses[0], body, timeoutMs: w.timeoutMs ?? DELIVERY_TIMEOUT_MS, maxBytes: MAX_RESPONSE_BYTES,
      headers: { "content-type": "application/json", "user-agent": USER_AGENT, ...signed },
    });
    const s = res.status;
    const errorClass = s >= 200 && s < 300 ? null : s === 410 ? "gone" : s >= 300 && s < 400 ? "redirect" : "http_error";
    const ids = [d.id, d.event_id, ...Object.values(publicData(d.payload)).filter((v): v is string => typeof v === "string")];
    return { status: s, errorClass, excerpt: safeExcerpt(res.body, body, ids), retryAfter: parseRetryAfter(res.headers["retry-after"], now) };
  } catch (err) {
    if (err instanceof UrlRefused) return { status: null, errorClass: err.reason === "unresolvable" ? "dns_error" : "address_refused", excerpt: null, retryAfter: null };
    if (err instanceof SendError) return { status: null, errorClass: err.errorClass, excerpt: null, retryAfter: null };
    w.logger.error("webhook.attempt.crashed", { deliveryId: d.id, errorClass: (err as Error)?.name ?? typeof err });
    return { status: null, errorClass: "internal", excerpt: null, retryAfter: null };
  }
}

/** Make one claimed attempt and record it. Returns whether it was delivered. */
async function deliverOne(w: WorkerDeps, d: Claimed): Promise<boolean> {
  const now = w.now();
  const started = performance.now();
  const r = await attemptOnce(w, d, now);
  const duration = Math.round(performance.now() - started);
  const outcome = decide(d.attempt_count - d.schedule_base, r.errorClass === "redirect" ? r.status : r.status, (w.random ?? Math.random)(), r.retryAfter);
  const ok = outcome.kind === "delivered";
  const gone = outcome.kind === "gone";
  const status = ok ? "delivered" : outcome.kind === "retry" ? "pending" : "dead";
  const next = outcome.kind === "retry" ? new Date(now.getTime() + outcome.delaySeconds * 1000) : now;
  const failingLimit = new Date(now.getTime() - FAILING_DISABLE_SECONDS * 1000);
  await w.db.sql`
    with a as (
      insert into public.webhook_attempts (delivery_id, distributor_id, endpoint_id, attempt_no, started_at, duration_ms, status_code, error_class, response_excerpt)
      values (${d.id}, ${d.distributor_id}, ${d.endpoint_id}, ${d.attempt_count}, ${now}, ${duration}, ${r.status}, ${r.errorClass}, ${r.excerpt})
      on conflict (delivery_id, attempt_no) do nothing
      returning 1
    ), dl as (
      update public.webhook_deliveries
      set status = ${status}, next_attempt_at = ${next}, last_status_code = ${r.status}, last_error = ${r.errorClass},
          delivered_at = ${ok ? now : null}, updated_at = ${now}
      where id = ${d.id} and exists (select 1 from a)
      returning 1
    ), prev as (
      select id, enabled, failing_since from public.webhook_endpoints where id = ${d.endpoint_id}
    ), ep as (
      update public.webhook_endpoints e
      set failing_since = case when ${ok} then null else coalesce(e.failing_since, ${now}) end,
          enabled = case when ${gone} then false
                         when not ${ok} and e.failing_since is not null and e.failing_since <= ${failingLimit} then false
                         else e.enabled end,
          disabled_reason = case when ${gone} then 'gone'
                                 when not ${ok} and e.failing_since is not null and e.failing_since <= ${failingLimit} then 'failing'
                                 else e.disabled_reason end,
          updated_at = ${now}
      from prev
      where e.id = prev.id and exists (select 1 from a)
      returning e.id, e.enabled, e.disabled_reason, prev.enabled as was_enabled, prev.failing_since
    )
    insert into public.security_incidents (distributor_id, type, severity, details, created_at)
    select ${d.distributor_id}, 'webhook_endpoint_disabled', 'medium',
           jsonb_build_object('endpoint_id', ep.id, 'reason', ep.disabled_reason, 'failing_since', ep.failing_since,
                              'delivery_id', ${d.id}::text, 'status_code', ${r.status}::int), ${now}
    from ep where ep.was_enabled and not ep.enabled`;
  if (!ok) w.logger.info("webhook.attempt.failed", { deliveryId: d.id, attempt: d.attempt_count, status: r.status, errorClass: r.errorClass, outcome: outcome.kind });
  return ok;
}

/** One pass: fan out, claim, deliver. */
export async function runPass(w: WorkerDeps): Promise<PassResult> {
  await fanOut(w);
  const claimed = await claim(w);
  const results = await mapLimit(claimed, w.concurrency ?? 8, (d) => deliverOne(w, d));
  const delivered = results.filter(Boolean).length;
  return { claimed: claimed.length, delivered, failed: claimed.length - delivered };
}
