// Requests per client address, counted in the instance's memory and added to PostgreSQL in
// batches (private.security_add_requests): one statement for every address seen in the last
// FLUSH_MS instead of one statement per request, so counting costs a request a map update.
// PostgreSQL keeps the totals of all instances and decides: it opens the rate_anomaly incident
// and the block when a window's total crosses the limit.
//
// A request is sent to the database at once (and waits for its answer) when this instance's own
// estimate (the database's last total + hits not yet added) says it crosses the limit, or when the
// address is known to be blocked, so the boundary is exact on one instance and a block that was
// lifted or has expired in the database lets the next request through. Across instances, an
// address can exceed the limit by what the other instances have not added yet (at most FLUSH_MS
// of its requests each) before it is blocked, and another instance learns of a block at its
// next batch with that address in it. A batch that fails is logged and dropped (fail open).
import type { Db } from "../db/index.ts";
import type { Logger } from "../log/index.ts";

/** Counting window of every private.security_* key (seconds). */
export const WINDOW_SECONDS = 5 * 60;
/** How long hits wait in memory before they are added. */
export const FLUSH_MS = 100;
/** A batch this large goes out at once. */
const BATCH_MAX = 1000;
/** Database answers remembered, at most this many addresses (the oldest are forgotten first). */
const KNOWN_MAX = 10_000;

interface Known {
  /** The database's total for the address's window, and when (performance.now()) that window ends. */
  hits: number;
  windowEndsAt: number;
  /** performance.now() until which the address is blocked; 0: not blocked. */
  blockedUntil: number;
}

interface Pending {
  hits: number;
  fn: string;
}

export interface RequestCounterOptions {
  db: Db;
  logger: Logger;
  limit: number;
  blockSeconds: number;
  flushMs?: number;
}

export class RequestCounter {
  #pending = new Map<string, Pending>();
  #inFlight = new Map<string, number>();
  #known = new Map<string, Known>();
  #chain: Promise<void> = Promise.resolve();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly o: RequestCounterOptions) {}

  /** Count one request from `ip` to function `fn`; answers the seconds the address must wait (0: go ahead). */
  async hit(ip: string, fn: string): Promise<number> {
    const pending = this.#pending.get(ip);
    if (pending) {
      pending.hits++;
      pending.fn = fn;
    } else this.#pending.set(ip, { hits: 1, fn });
    const now = performance.now();
    const known = this.#known.get(ip);
    const added = known !== undefined && known.windowEndsAt > now ? known.hits : 0;
    const estimate = added + (this.#inFlight.get(ip) ?? 0) + (pending?.hits ?? 1);
    if ((known !== undefined && known.blockedUntil > now) || estimate > this.o.limit) {
      await this.flush(); // the database decides
      return this.#wait(ip);
    }
    if (this.#pending.size >= BATCH_MAX) void this.flush();
    else this.#schedule();
    return 0;
  }

  /** Seconds `ip` must still wait by the database's last answer (0: not blocked). */
  #wait(ip: string): number {
    const until = this.#known.get(ip)?.blockedUntil ?? 0;
    const left = until - performance.now();
    return left > 0 ? Math.max(1, Math.ceil(left / 1000)) : 0;
  }

  /** Add every pending hit now (after a batch already on its way). */
  flush(): Promise<void> {
    this.#chain = this.#chain.then(() => this.#send());
    return this.#chain;
  }

  #schedule(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, this.o.flushMs ?? FLUSH_MS);
    (this.#timer as { unref?: () => void }).unref?.(); // never keeps a process alive by itself
  }

  async #send(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#pending.size === 0) return;
    // Sorted: overlapping batches of two instances lock the same counter rows in the same order.
    const batch = [...this.#pending].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    this.#pending = new Map();
    for (const [ip, p] of batch) this.#inFlight.set(ip, (this.#inFlight.get(ip) ?? 0) + p.hits);
    try {
      const rows = await this.o.db.sql<{ ip: string; hits: number; window_left: number; wait: number }[]>`
        select substr(key, 4) as ip, hits, window_left, wait from private.security_add_requests(
          ${this.o.db.sql.json(batch.map(([ip, p]) => ({ key: `ip:${ip}`, ip, hits: p.hits, details: { fn: p.fn } })))},
          ${this.o.limit}, ${WINDOW_SECONDS}, ${this.o.blockSeconds})`;
      const now = performance.now();
      for (const r of rows) {
        this.#known.delete(r.ip); // re-inserted last: the map's order is the forgetting order
        if (this.#known.size >= KNOWN_MAX) this.#known.delete(this.#known.keys().next().value!);
        this.#known.set(r.ip, { hits: r.hits, windowEndsAt: now + r.window_left * 1000, blockedUntil: r.wait > 0 ? now + r.wait * 1000 : 0 });
      }
    } catch (err) {
      this.o.logger.warn("security.count_failed", { type: "rate_anomaly", addresses: batch.length, errorCode: String((err as { code?: string })?.code ?? "") });
    } finally {
      for (const [ip, p] of batch) {
        const left = (this.#inFlight.get(ip) ?? 0) - p.hits;
        if (left > 0) this.#inFlight.set(ip, left);
        else this.#inFlight.delete(ip);
      }
    }
  }
}
