// Every request has a deadline. The HTTP frame starts it (no timer of its own: one shared sweeper
// looks at the deadlines in flight every DEADLINE_TICK_MS) and carries it
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

/**
 * How often the one shared sweeper looks at the deadlines in flight. A request costs no timer of
 * its own (issue 10: a timer per request was a visible share of the frame); a deadline fires at
 * most this late.
 */
export const DEADLINE_TICK_MS = 20;

const live = new Set<Deadline>();
let sweeper: ReturnType<typeof setInterval> | undefined;

function sweep(): void {
  if (live.size === 0) {
    // Stopped lazily (on an idle tick), so a server under load never re-arms it per request.
    clearInterval(sweeper);
    sweeper = undefined;
    return;
  }
  const now = performance.now();
  for (const d of live) d.check(now);
}

function track(d: Deadline): void {
  live.add(d);
  if (sweeper === undefined) {
    sweeper = setInterval(sweep, DEADLINE_TICK_MS);
    (sweeper as { unref?: () => void }).unref?.(); // never keeps a process alive by itself
  }
}

export class Deadline {
  /** performance.now() at which the budget runs out. */
  at: number;
  #expired: Promise<never> | undefined;
  #reject: ((e: DeadlineExceeded) => void) | undefined;
  #done = false;
  #suspended = 0;
  #listener: (() => void) | undefined;
  #listeners: (() => void)[] | undefined;

  constructor(readonly budgetMs: number) {
    this.at = performance.now() + budgetMs;
    track(this);
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
    else if (!this.#listener) this.#listener = fn;
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
  }

  /** The request was answered: the deadline no longer fires. */
  dispose(): void {
    live.delete(this);
  }

  /** The sweeper's look (also usable by tests): fire if the budget has run out. */
  check(now = performance.now()): void {
    if (this.#done || this.#suspended || now < this.at) return;
    this.#done = true;
    live.delete(this);
    this.#reject?.(new DeadlineExceeded());
    const first = this.#listener;
    const rest = this.#listeners;
    this.#listener = this.#listeners = undefined;
    first?.();
    rest?.forEach((fn) => fn());
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
    try {
      const work = storage.run(d, next);
      // Resolves true when the handler is done, false `graceMs` after the deadline if it is not.
      const finished = await new Promise<boolean>((resolve, reject) => {
        work.then(() => resolve(true), reject);
        d.onExpire(() => setTimeout(() => resolve(false), graceMs));
      });
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
