// The fallback engine: candidates in order, each retried per classify() with backoff, a
// per-attempt timeout and one overall deadline no retry may exceed. It knows nothing of HTTP
// routes or the database: the caller reads health and keys before, and records after.
import { backoffMs, classify, toFailure, type BackoffPolicy, type ProviderFailure } from "./classify.ts";
import type { ProviderId } from "./registry.ts";
import type { WireClient } from "./types.ts";

export interface Candidate {
  provider: ProviderId;
  model: string;
  keySource: "user" | "platform";
  client: WireClient;
}

/** One attempt that went out to a provider (stored in ai_responses.attempt_log). */
export interface AttemptLog {
  provider: ProviderId;
  model: string;
  key_source: "user" | "platform";
  error_class: string | null;
  status: number | null;
  latency_ms: number;
}

export interface EngineOptions {
  attemptTimeoutMs: number;
  deadlineMs: number;
  maxRetries: number;
  backoff: BackoffPolicy;
  /** The caller went away: stop at once. */
  signal?: AbortSignal;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
}

/** Per provider, how this request ended for it (health is recorded from this). */
export type ProviderOutcome = { provider: ProviderId; ok: boolean; countsAgainstHealth: boolean };

export class AiFailure extends Error {
  constructor(
    /** stop: our request was refused (400); exhausted: every candidate failed (502); cancelled: the client left. */
    readonly kind: "stop" | "exhausted" | "cancelled",
    readonly errorClass: string,
    readonly attempts: AttemptLog[],
    readonly outcomes: ProviderOutcome[],
    readonly invalidKeys: ProviderId[],
  ) {
    super(`ai ${kind}: ${errorClass}`);
    this.name = "AiFailure";
  }
}

export interface EngineResult<T> {
  value: T;
  candidate: Candidate;
  attempts: AttemptLog[];
  outcomes: ProviderOutcome[];
  invalidKeys: ProviderId[];
  /** Aborts when the deadline passes or the client leaves (a stream keeps reading under it). */
  signal: AbortSignal;
  /** Stop the deadline timer (call once the answer is complete). */
  release(): void;
}

export const defaultSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(() => {
      signal.removeEventListener("abort", done);
      resolve();
    }, ms);
    const done = () => {
      clearTimeout(t);
      resolve();
    };
    signal.addEventListener("abort", done, { once: true });
  });

/**
 * Try `candidates` in order with `call` (which must honour the signal it is given) until one
 * answers. Throws AiFailure when none does.
 */
export async function runWithFallback<T>(
  candidates: Candidate[],
  call: (c: Candidate, signal: AbortSignal) => Promise<T>,
  o: EngineOptions,
): Promise<EngineResult<T>> {
  const sleep = o.sleep ?? defaultSleep;
  const started = performance.now();
  const endAt = started + o.deadlineMs;
  const overall = new AbortController();
  let deadlinePassed = false;
  const deadlineTimer = setTimeout(() => {
    deadlinePassed = true;
    overall.abort(new Error("deadline"));
  }, o.deadlineMs);
  const onClientGone = () => overall.abort(new Error("cancelled"));
  if (o.signal?.aborted) onClientGone();
  o.signal?.addEventListener("abort", onClientGone, { once: true });
  const release = () => {
    clearTimeout(deadlineTimer);
    o.signal?.removeEventListener("abort", onClientGone);
  };

  const attempts: AttemptLog[] = [];
  const outcomes: ProviderOutcome[] = [];
  const invalidKeys: ProviderId[] = [];
  let lastClass = "not_configured";
  const fail = (kind: AiFailure["kind"], cls: string) => {
    release();
    return new AiFailure(kind, cls, attempts, outcomes, invalidKeys);
  };

  for (const c of candidates) {
    let failure: ProviderFailure | undefined;
    for (let retry = 0; ; retry++) {
      if (o.signal?.aborted) throw fail("cancelled", "cancelled");
      const remaining = endAt - performance.now();
      if (deadlinePassed || remaining <= 0) throw fail("exhausted", "deadline");
      const attemptCtl = new AbortController();
      let timedOut = false;
      // An attempt cut to what is left of the deadline has used the deadline up when it times out
      // (its timer and the deadline's may fire in either order: no further attempt either way).
      const clipped = remaining <= o.attemptTimeoutMs;
      const timer = setTimeout(() => {
        timedOut = true;
        if (clipped) deadlinePassed = true;
        attemptCtl.abort(new Error("timeout"));
      }, Math.min(o.attemptTimeoutMs, remaining));
      const link = () => attemptCtl.abort(overall.signal.reason);
      overall.signal.addEventListener("abort", link, { once: true });
      const t0 = performance.now();
      try {
        const value = await call(c, attemptCtl.signal);
        clearTimeout(timer);
        attempts.push({ provider: c.provider, model: c.model, key_source: c.keySource, error_class: null, status: null, latency_ms: Math.round(performance.now() - t0) });
        outcomes.push({ provider: c.provider, ok: true, countsAgainstHealth: false });
        // The attempt's signal stays linked to the overall one: a stream keeps reading under it.
        return { value, candidate: c, attempts, outcomes, invalidKeys, signal: attemptCtl.signal, release };
      } catch (err) {
        clearTimeout(timer);
        overall.signal.removeEventListener("abort", link);
        const cancelled = !!o.signal?.aborted;
        failure = toFailure(err, { timedOut: timedOut || deadlinePassed, cancelled });
        const { decision, errorClass } = classify(failure);
        lastClass = deadlinePassed ? "deadline" : errorClass;
        attempts.push({
          provider: c.provider, model: c.model, key_source: c.keySource, error_class: errorClass,
          status: failure.status ?? null, latency_ms: Math.round(performance.now() - t0),
        });
        if (decision === "stop") {
          throw fail(failure.kind === "cancelled" ? "cancelled" : "stop", errorClass);
        }
        if (deadlinePassed) {
          outcomes.push({ provider: c.provider, ok: false, countsAgainstHealth: true });
          throw fail("exhausted", "deadline");
        }
        if (decision === "fallback") {
          if (errorClass === "auth" && c.keySource === "user") invalidKeys.push(c.provider);
          break;
        }
        if (retry >= o.maxRetries) break;
        const delay = backoffMs(retry + 1, failure, o.backoff, o.random);
        // No retry may run past the deadline: fall back instead of sleeping through it.
        if (performance.now() + delay >= endAt) break;
        await sleep(delay, overall.signal);
      }
    }
    const cls = failure ? classify(failure).errorClass : "unknown";
    outcomes.push({ provider: c.provider, ok: false, countsAgainstHealth: !(cls === "auth" && c.keySource === "user") });
  }
  throw fail("exhausted", lastClass);
}
