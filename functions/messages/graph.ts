// WhatsApp Cloud API client: send one text message through Meta's Graph API.
//
// The retry decision is a pure function (shouldRetry) apart from the loop (sendWhatsAppText):
//   429 and 5xx → retried with backoff (Retry-After respected up to a cap), network errors too
//     (nothing was answered);
//   a per-attempt timeout → NOT retried: Graph may have accepted the message, and WhatsApp has
//     no idempotency key, so a retry could send the customer the same message twice;
//   other 4xx, or a 2xx without a message id → not retried.
// Tokens and message bodies never reach a log line or an error value.

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** Backoff before retry n (1-based) is baseDelayMs · 2^(n-1), at most maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this is not waited for: the send fails instead. */
  maxRetryAfterMs: number;
  /** Jitter source in [0, 1): backoff waits are d/2 + random()·d/2 ("equal jitter"). */
  random?: () => number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 3,
  baseDelayMs: 250,
  maxDelayMs: 2_000,
  maxRetryAfterMs: 5_000,
  random: Math.random,
};

/** What one attempt came to. */
export type AttemptResult =
  | { kind: "ok"; status: number; wamid: string }
  | { kind: "http"; status: number; retryAfter: string | null; errorCode: string; errorTitle: string }
  | { kind: "invalid_response"; status: number }
  | { kind: "timeout" }
  | { kind: "network" };

export interface RetryDecision {
  retry: boolean;
  waitMs: number;
  reason: string;
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, nowMs: number): number | null {
  if (value == null) return null;
  const v = value.trim();
  if (/^\d{1,9}$/.test(v)) return Number(v) * 1000;
  // IMF-fixdate only (RFC 9110), e.g. "Sun, 06 Nov 1994 08:49:37 GMT"; Date.parse alone is too lenient.
  if (!/^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(v)) return null;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

function backoff(attempt: number, policy: RetryPolicy): number {
  const d = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return policy.random ? Math.round(d / 2 + policy.random() * (d / 2)) : d;
}

/** Whether to make another attempt after attempt number `attempt` (1-based) ended in `result`. */
export function shouldRetry(result: AttemptResult, attempt: number, policy: RetryPolicy, nowMs = Date.now()): RetryDecision {
  const stop = (reason: string): RetryDecision => ({ retry: false, waitMs: 0, reason });
  switch (result.kind) {
    case "ok":
      return stop("success");
    case "timeout":
      return stop("timeout_not_retried");
    case "invalid_response":
      return stop("invalid_response");
    case "network":
      if (attempt >= policy.maxAttempts) return stop("attempts_exhausted");
      return { retry: true, waitMs: backoff(attempt, policy), reason: "network_error" };
    case "http": {
      const retryable = result.status === 429 || result.status >= 500;
      if (!retryable) return stop("client_error");
      if (attempt >= policy.maxAttempts) return stop("attempts_exhausted");
      const reason = result.status === 429 ? "rate_limited" : "server_error";
      const after = parseRetryAfter(result.retryAfter, nowMs);
      if (after !== null) {
        if (after > policy.maxRetryAfterMs) return stop("retry_after_too_long");
        return { retry: true, waitMs: after, reason };
      }
      return { retry: true, waitMs: backoff(attempt, policy), reason };
    }
  }
}

export interface GraphOptions {
  baseUrl: string;
  version: string;
  /** Bound on each attempt, body included (AbortSignal.timeout). */
  timeoutMs: number;
  fetch: typeof fetch;
  policy?: RetryPolicy;
  sleep?: (ms: number) => Promise<void>;
}

export interface TextMessage {
  phoneNumberId: string;
  accessToken: string;
  /** The customer's WhatsApp id (digits). */
  to: string;
  body: string;
  /** Let WhatsApp render a preview of the first link in the body. */
  previewUrl?: boolean;
}

export type SendResult =
  | { ok: true; wamid: string; attempts: number }
  | { ok: false; attempts: number; errorCode: string; errorTitle: string; reason: string };

/** Meta's limit on text.body. */
export const WHATSAPP_TEXT_MAX = 4096;

const MAX_RESPONSE_CHARS = 64 * 1024;

function graphError(json: unknown, status: number): { errorCode: string; errorTitle: string } {
  const e = (json as { error?: { code?: unknown; message?: unknown; type?: unknown } } | null)?.error;
  const code = typeof e?.code === "number" || typeof e?.code === "string" ? String(e.code).slice(0, 32) : `http_${status}`;
  const title = typeof e?.message === "string" && e.message ? e.message : typeof e?.type === "string" ? e.type : `HTTP ${status}`;
  return { errorCode: code, errorTitle: title.slice(0, 200) };
}

const isTimeout = (err: unknown) => {
  const name = (err as { name?: string } | null)?.name;
  return name === "TimeoutError" || name === "AbortError";
};

/** One POST to /<version>/<phone_number_id>/messages. Never throws. */
export async function attemptSend(o: GraphOptions, m: TextMessage): Promise<AttemptResult> {
  const url = `${o.baseUrl.replace(/\/+$/, "")}/${o.version}/${encodeURIComponent(m.phoneNumberId)}/messages`;
  const payload = {
    messaging_product: "whatsapp",
    recipient_type: "individual",
    to: m.to,
    type: "text",
    text: { preview_url: m.previewUrl ?? false, body: m.body },
  };
  try {
    const res = await o.fetch(url, {
      method: "POST",
      headers: { authorization: `Bearer ${m.accessToken}`, "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(o.timeoutMs),
      redirect: "error",
    });
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text.length <= MAX_RESPONSE_CHARS ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (res.ok) {
      const id = (json as { messages?: { id?: unknown }[] } | null)?.messages?.[0]?.id;
      if (typeof id === "string" && id.length > 0 && id.length <= 256) return { kind: "ok", status: res.status, wamid: id };
      return { kind: "invalid_response", status: res.status };
    }
    return { kind: "http", status: res.status, retryAfter: res.headers.get("retry-after"), ...graphError(json, res.status) };
  } catch (err) {
    return isTimeout(err) ? { kind: "timeout" } : { kind: "network" };
  }
}

function failure(r: Exclude<AttemptResult, { kind: "ok" }>): { errorCode: string; errorTitle: string } {
  switch (r.kind) {
    case "http":
      return { errorCode: r.errorCode, errorTitle: r.errorTitle };
    case "invalid_response":
      return { errorCode: "invalid_response", errorTitle: `Graph API answered ${r.status} without a message id` };
    case "timeout":
      return { errorCode: "timeout", errorTitle: "Graph API request timed out" };
    case "network":
      return { errorCode: "network_error", errorTitle: "Graph API unreachable" };
  }
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Send a text message with retries; the outcome, never an exception. */
export async function sendWhatsAppText(o: GraphOptions, m: TextMessage): Promise<SendResult> {
  const policy = o.policy ?? DEFAULT_RETRY_POLICY;
  const sleep = o.sleep ?? defaultSleep;
  for (let attempt = 1; ; attempt++) {
    const result = await attemptSend(o, m);
    if (result.kind === "ok") return { ok: true, wamid: result.wamid, attempts: attempt };
    const decision = shouldRetry(result, attempt, policy);
    if (!decision.retry) return { ok: false, attempts: attempt, reason: decision.reason, ...failure(result) };
    await sleep(decision.waitMs);
  }
}
