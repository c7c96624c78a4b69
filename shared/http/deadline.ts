// Every request has a deadline. The HTTP frame starts it (one timer per request) and carries it
// to shared/db in an AsyncLocalStorage (node:async_hooks: Node and Deno), so no handler has to
// pass it along. The database layer races each step against it and never commits past it; the
// frame answers 503 itself if the handler is still busy `graceMs` after it (a request is never
// left unanswered). Time spent in third-party calls (deps.fetch: Graph sends, AI providers) does
// not count: those calls have their own timeouts, and the database budget starts again after them.
import { AsyncLocalStorage } from "node:async_hooks";
import type { Context, MiddlewareHandler } from "hono";

/** Thrown (rejected) when a request's deadline has passed. */
export class DeadlineExceeded extends Error {
  constructor() {
    super("request deadline exceeded");
    this.name = "DeadlineExceeded";
  }
}

export const DEFAULT_REQUEST_DEADLINE_MS = 5_000;
/** How long after the deadline the frame answers 503 for a handler that is still busy. */
export const DEFAULT_DEADLINE_GRACE_MS = 750;

export class Deadline {
  /** performance.now() at which the budget runs out. */
  at: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #expired: Promise<never> | undefined;
  #reject: ((e: DeadlineExceeded) => void) | undefined;
  #done = false;
  #suspended = 0;
  #firedWhileSuspended = false;
  #listeners: (() => void)[] | undefined;

  constructor(readonly budgetMs: number) {
    this.at = performance.now() + budgetMs;
    this.#arm(budgetMs);
  }

  /** Milliseconds left (the whole budget while suspended for a third-party call). */
  remaining(): number {
    if (this.#done) return 0;
    return this.#suspended ? this.budgetMs : this.at - performance.now();
  }

  get passed(): boolean {
    return this.#done;
  }

  /** Rejects with DeadlineExceeded when the deadline passes; never resolves. Shared, created on first use. */
  get expired(): Promise<never> {
    if (!this.#expired) {
      this.#expired = new Promise<never>((_, reject) => (this.#reject = reject));
      this.#expired.catch(() => {});
      if (this.#done) this.#reject!(new DeadlineExceeded());
    }
    return this.#expired;
  }

  /** Called once when the deadline passes. */
  onExpire(fn: () => void): void {
    if (this.#done) fn();
    else (this.#listeners ??= []).push(fn);
  }

  /** A third-party call starts: the deadline stops running until it ends. */
  suspend(): void {
    this.#suspended++;
  }

  /** It ended: the database work that follows gets a fresh budget. */
  resume(): void {
    if (this.#suspended === 0 || --this.#suspended > 0 || this.#done) return;
    this.at = performance.now() + this.budgetMs;
    if (this.#firedWhileSuspended) {
      this.#firedWhileSuspended = false;
      this.#arm(this.budgetMs);
    }
  }

  /** The request was answered: stop the timer. */
  dispose(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, ms));
  }

  #fire(): void {
    this.#timer = undefined;
    if (this.#suspended) {
      this.#firedWhileSuspended = true;
      return;
    }
    const left = this.at - performance.now();
    if (left > 1) return this.#arm(left); // moved by a third-party call
    this.#done = true;
    this.#reject?.(new DeadlineExceeded());
    const ls = this.#listeners;
    this.#listeners = undefined;
    ls?.forEach((fn) => fn());
  }
}

const storage = new AsyncLocalStorage<Deadline>();

/** The deadline of the request this code runs for, if any (scripts and cron have none). */
export function currentDeadline(): Deadline | undefined {
  return storage.getStore();
}

/** Run `fn` under `deadline` (tests, jobs that want one). */
export function withDeadline<T>(deadline: Deadline, fn: () => T): T {
  return storage.run(deadline, fn);
}

let defaultBudgetMs = DEFAULT_REQUEST_DEADLINE_MS;

/** Set once at start-up from REQUEST_DEADLINE_MS (shared/runtime/deps.ts). */
export function setDefaultRequestDeadline(ms: number): void {
  defaultBudgetMs = ms;
}

export function defaultRequestDeadline(): number {
  return defaultBudgetMs;
}

/**
 * Wrap an outbound fetch so the request's deadline does not run while it is in flight (it has
 * its own timeout); the database budget starts again when it settles.
 */
export function deadlineAwareFetch(f: typeof fetch): typeof fetch {
  return (async (...args: Parameters<typeof fetch>) => {
    const d = storage.getStore();
    if (!d) return await f(...args);
    d.suspend();
    try {
      return await f(...args);
    } finally {
      d.resume();
    }
  }) as typeof fetch;
}

export interface DeadlineOptions {
  /** Budget per request in milliseconds; default: the one set at start-up (REQUEST_DEADLINE_MS). */
  ms?: number;
  graceMs?: number;
  /** The 503 to send when the handler is still busy `graceMs` after the deadline. */
  unavailable: (c: Context) => Response;
  onLate?: (c: Context) => void;
}

/**
 * The request's deadline around everything after it. Place it inside the middleware that
 * decorates responses (security headers, CORS), so the 503 it may answer is decorated too.
 */
export function requestDeadline(o: DeadlineOptions): MiddlewareHandler {
  const graceMs = o.graceMs ?? DEFAULT_DEADLINE_GRACE_MS;
  return async (c, next) => {
    const d = new Deadline(o.ms ?? defaultBudgetMs);
    let late: (() => void) | undefined;
    const tooLate = new Promise<false>((resolve) => (late = () => setTimeout(() => resolve(false), graceMs)));
    d.onExpire(late!);
    const work = storage.run(d, next);
    try {
      const finished = await Promise.race([work.then(() => true as const), tooLate]);
      if (!finished) {
        work.catch(() => {}); // the handler may still fail; it is no longer listened to
        o.onLate?.(c);
        c.res = o.unavailable(c);
      }
    } finally {
      d.dispose();
    }
  };
}
