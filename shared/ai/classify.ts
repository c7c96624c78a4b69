// The one retry policy: what a failed provider call means for the request. Pure and
// unit-tested (tests/ai/classify.test.ts); the engine (./engine.ts) runs it.
//
//   network error, timeout, 408, 409, 429, 5xx → retry the same provider (backoff with full
//     jitter, Retry-After honoured up to a cap, at most AI_MAX_RETRIES), then fall back
//   401, 403                                   → fall back at once (an invalid key)
//   400, 404, 422                              → stop: our request is wrong for every provider
//   other 4xx, an unreadable answer            → fall back
//   the client went away                       → stop

/** A provider call's failure, as the wire modules report it (never the provider's text). */
export interface ProviderFailure {
  kind: "http" | "network" | "timeout" | "cancelled" | "bad_response";
  status?: number;
  /** Retry-After in milliseconds, when the provider sent one. */
  retryAfterMs?: number;
}

export type Decision = "retry" | "fallback" | "stop";

export interface Classified {
  decision: Decision;
  /** Stored in ai_responses.error_class and logs: a short class, never provider text. */
  errorClass: string;
}

export function classify(f: ProviderFailure): Classified {
  switch (f.kind) {
    case "timeout":
      return { decision: "retry", errorClass: "timeout" };
    case "network":
      return { decision: "retry", errorClass: "network" };
    case "cancelled":
      return { decision: "stop", errorClass: "cancelled" };
    case "bad_response":
      return { decision: "fallback", errorClass: "bad_response" };
  }
  const s = f.status ?? 0;
  if (s === 408) return { decision: "retry", errorClass: "timeout" };
  if (s === 409) return { decision: "retry", errorClass: "conflict" };
  if (s === 429) return { decision: "retry", errorClass: "rate_limited" };
  if (s >= 500) return { decision: "retry", errorClass: "server_error" };
  if (s === 401 || s === 403) return { decision: "fallback", errorClass: "auth" };
  if (s === 400 || s === 404 || s === 422) return { decision: "stop", errorClass: "invalid_request" };
  return { decision: "fallback", errorClass: "http_error" };
}

export interface BackoffPolicy {
  baseMs: number;
  retryAfterCapMs: number;
  /** Upper bound of one jittered delay. */
  maxMs?: number;
}

/**
 * How long to wait before retry number `retry` (1-based): full jitter over base·2^(retry-1),
 * or the provider's Retry-After when it sent one (capped).
 */
export function backoffMs(retry: number, f: ProviderFailure, p: BackoffPolicy, random: () => number = Math.random): number {
  if (f.retryAfterMs !== undefined) return Math.min(Math.max(0, f.retryAfterMs), p.retryAfterCapMs);
  const ceiling = Math.min(p.maxMs ?? 10_000, p.baseMs * 2 ** (retry - 1));
  return Math.floor(random() * ceiling);
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent or malformed. */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d{1,7}(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Turn whatever an SDK threw into a ProviderFailure. `timedOut`/`cancelled`: our own abort
 * signal fired (per-attempt timeout or deadline, or the client left).
 */
export function toFailure(err: unknown, o: { timedOut?: boolean; cancelled?: boolean } = {}): ProviderFailure {
  if (o.cancelled) return { kind: "cancelled" };
  if (o.timedOut) return { kind: "timeout" };
  const e = err as { status?: unknown; statusCode?: unknown; headers?: unknown; name?: unknown; code?: unknown } | null;
  const status = typeof e?.status === "number" ? e.status : typeof e?.statusCode === "number" ? e.statusCode : undefined;
  if (status !== undefined && status >= 100) {
    return { kind: "http", status, retryAfterMs: parseRetryAfter(headerOf(e?.headers, "retry-after")) };
  }
  if (err instanceof BadResponse) return { kind: "bad_response" };
  const name = String(e?.name ?? "");
  if (/timeout/i.test(name)) return { kind: "timeout" };
  if (err instanceof SyntaxError || /ResponseValidation|SDKValidation|Validation/i.test(name)) return { kind: "bad_response" };
  return { kind: "network" };
}

/** An answer we could not read (no text, malformed). */
export class BadResponse extends Error {
  constructor(detail: string) {
    super(detail);
    this.name = "BadResponse";
  }
}

function headerOf(h: unknown, name: string): string | undefined {
  if (!h) return undefined;
  if (typeof (h as Headers).get === "function") return (h as Headers).get(name) ?? undefined;
  if (typeof h === "object") {
    const rec = h as Record<string, unknown>;
    const k = Object.keys(rec).find((x) => x.toLowerCase() === name);
    const v = k ? rec[k] : undefined;
    return Array.isArray(v) ? String(v[0]) : v === undefined ? undefined : String(v);
  }
  return undefined;
}
