// The retry schedule, as pure functions (tests drive them with their own clock and randomness).
//
// Attempt 1 is immediate; after a failure the next attempt waits 5 s, 5 min, 30 min, 2 h, 5 h,
// 10 h, 10 h (each ±20 % jitter): eight attempts over about 27.5 hours, then the delivery is
// dead-lettered. A Retry-After from the receiver is honoured within the schedule's bounds
// (at least 5 s, at most 10 h).
export const RETRY_DELAYS_SECONDS = [5, 300, 1800, 7200, 18000, 36000, 36000] as const;
export const MAX_ATTEMPTS = RETRY_DELAYS_SECONDS.length + 1;
export const JITTER = 0.2;
const MIN_DELAY = RETRY_DELAYS_SECONDS[0];
const MAX_DELAY = RETRY_DELAYS_SECONDS[RETRY_DELAYS_SECONDS.length - 1];
/** An endpoint that has only failed for this long is disabled. */
export const FAILING_DISABLE_SECONDS = 5 * 24 * 3600;

/**
 * Seconds to wait after failed attempt `attempt` (1-based), or null when it was the last.
 * `random` is in [0, 1): 0.5 is the exact schedule.
 */
export function retryDelaySeconds(attempt: number, random: number, retryAfterSeconds?: number | null): number | null {
  if (attempt >= MAX_ATTEMPTS) return null;
  if (retryAfterSeconds != null && Number.isFinite(retryAfterSeconds) && retryAfterSeconds >= 0) {
    return Math.min(MAX_DELAY, Math.max(MIN_DELAY, Math.ceil(retryAfterSeconds)));
  }
  const base = RETRY_DELAYS_SECONDS[attempt - 1];
  return base * (1 - JITTER + 2 * JITTER * random);
}

/** Retry-After as seconds (delta-seconds or an HTTP date), null when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: Date): number | null {
  if (!value) return null;
  const v = value.trim();
  if (/^\d{1,10}$/.test(v)) return Number(v);
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, (at - now.getTime()) / 1000);
}

export type AttemptOutcome =
  | { kind: "delivered" }
  | { kind: "gone" } // 410: the endpoint is disabled at once
  | { kind: "retry"; delaySeconds: number }
  | { kind: "dead" }; // the last attempt failed

/** What to do after attempt `attempt` answered `status` (null: no HTTP answer). */
export function decide(attempt: number, status: number | null, random: number, retryAfterSeconds?: number | null): AttemptOutcome {
  if (status !== null && status >= 200 && status < 300) return { kind: "delivered" };
  if (status === 410) return { kind: "gone" };
  const delay = retryDelaySeconds(attempt, random, status === 429 || status === 503 ? retryAfterSeconds : null);
  return delay === null ? { kind: "dead" } : { kind: "retry", delaySeconds: delay };
}
