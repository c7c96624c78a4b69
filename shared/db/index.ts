// postgres.js pool plus the two ways to run work: as the user (RLS decides) or as the service.
//
// withUser pipelines its set-up on one reserved connection: BEGIN, then one statement that
// sets role + claims (and takes a rate-limit hit), then the caller's statements, all written
// before the first reply is read; the common case costs two round trips (that batch, COMMIT).
//
// asUser is the hot-path alternative: one statement calling a private.* function that takes the
// rate-limit hit and switches role + claims itself (private.begin_user_request), so the
// statement's implicit transaction is the request's transaction. One statement needs no reserved
// connection: concurrent requests share the pool's pipelined connections.
//
// Faults: both honour the request's deadline (shared/http/deadline.ts, carried in an
// AsyncLocalStorage; work outside a request has none). Each awaited step (connection, the
// caller's work, the set-up batch, COMMIT) is raced against it, and past it the request fails
// with 503 + Retry-After. COMMIT is never sent with less than a margin left, and the server
// refuses to commit past the deadline (a check pipelined with COMMIT): a COMMIT delayed in a
// frozen server rolls back instead. A reserved connection given up on mid-request is destroyed,
// never released with a query in flight; statement_timeout and
// idle_in_transaction_session_timeout, set in the pipelined set-up, are the server's backstop.
import postgres from "postgres";
import type { JWTPayload } from "jose";
import { currentDeadline, DeadlineExceeded, type Deadline } from "../http/deadline.ts";
import { ApiError } from "../http/errors.ts";
import { isUuid } from "../uuid/index.ts";

export type Sql = postgres.Sql;
/** A connection inside a transaction; tagged templates only. */
export type Tx = postgres.Sql | postgres.TransactionSql;

export interface DbOptions {
  url: string;
  max?: number;
  statementTimeoutMs?: number;
  /** false behind Supabase's transaction pooler (port 6543). */
  prepare?: boolean;
  /** Sees every statement as it is sent, with its connection's number (tests count statements). */
  onStatement?: (connection: number, query: string) => void;
}

export interface RateLimitRule {
  /** Bucket key, e.g. "secrets:<user id>". */
  key: string;
  limit: number;
  windowSeconds: number;
  /** Count the hit only if this user is a member of this distributor (per-tenant limits). */
  memberOf?: { distributorId: string; userId: string };
}

export interface RateLimitState {
  limit: number;
  remaining: number;
  /** Seconds until the window resets. */
  reset: number;
}

export interface UserContext {
  id: string;
  claims: JWTPayload;
}

export interface RunOptions {
  rateLimit?: RateLimitRule;
  /** Receives the limiter's state (for RateLimit-* headers) when the request is allowed. */
  onRateLimit?: (state: RateLimitState) => void;
}

/** What the limiter's SQL reports for an allowed request. */
type RateLimitHit = { hits: number; reset: number } | null | undefined;

/** The column every one-statement function returns beside its own: the limiter's state. */
export interface RateLimitColumn {
  rate_limit: RateLimitHit;
}

/** Options of asUser: per-tenant (memberOf) limits need withUser. */
export interface StatementOptions extends RunOptions {
  rateLimit?: Omit<RateLimitRule, "memberOf">;
  /** Sensitive reads: refuse (401) a token whose session_id names a session that no longer exists. */
  requireSession?: boolean;
}

export interface Db {
  sql: Sql;
  withUser<T>(user: UserContext, fn: (tx: Tx) => Promise<T>, opts?: RunOptions): Promise<T>;
  /**
   * Run one statement as the user. `build` gets the pool and the request argument (claims and
   * rate-limit rule, a jsonb parameter) to pass as the first argument of a function that starts with
   * private.begin_user_request; the rows must carry its `rate_limit` column.
   */
  asUser<R extends RateLimitColumn>(
    user: UserContext,
    build: (sql: Sql, request: postgres.Parameter) => Promise<R[]>,
    opts?: StatementOptions,
  ): Promise<R[]>;
  withService<T>(fn: (tx: Tx) => Promise<T>, opts?: RunOptions): Promise<T>;
  end(): Promise<void>;
}

const RATE_LIMITED = "P0429";
const SESSION_GONE = "P0401";

export function rateLimitHeaders(s: RateLimitState): Record<string, string> {
  return {
    "RateLimit-Limit": String(s.limit),
    "RateLimit-Remaining": String(Math.max(0, s.remaining)),
    "RateLimit-Reset": String(Math.max(0, s.reset)),
  };
}

function rateLimitError(err: unknown, rule: RateLimitRule): ApiError | null {
  const e = err as { code?: string; detail?: string };
  if (e?.code !== RATE_LIMITED) return null;
  const retry = Math.max(1, Number(e.detail) || rule.windowSeconds);
  return new ApiError("rate_limited", {
    "Retry-After": String(retry),
    ...rateLimitHeaders({ limit: rule.limit, remaining: 0, reset: retry }),
  });
}

function reportRateLimit(o: RunOptions, hit: RateLimitHit): void {
  if (o.rateLimit && hit && o.onRateLimit) {
    o.onRateLimit({ limit: o.rateLimit.limit, remaining: o.rateLimit.limit - hit.hits, reset: hit.reset });
  }
}

/**
 * postgres.js connection errors (CONNECTION_*, CONNECT_TIMEOUT), connection exceptions (08xxx),
 * server shutdown (57P0x), too many connections (53300) and socket errors.
 */
export function isConnectionLost(err: unknown): boolean {
  const code = String((err as { code?: unknown })?.code ?? "");
  return code.startsWith("CONNECTION_") || code.startsWith("57P0") || code.startsWith("08") || CONNECTION_CODES.has(code);
}
const CONNECTION_CODES = new Set([
  "CONNECT_TIMEOUT", "53300", "ECONNRESET", "EPIPE", "ECONNREFUSED", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND",
]);

/** Seconds a client is told to wait after a 503 from the database layer. */
export const DB_RETRY_AFTER_SECONDS = 1;
/** Past the deadline, how long the reply to a COMMIT already sent is still awaited. */
const COMMIT_GRACE_MS = 400;
const QUERY_CANCELED = "57014"; // statement_timeout (the server's backstop) or a cancel
const DIVISION_BY_ZERO = "22012"; // the pre-commit deadline check

function unavailable(detail: string, err?: unknown): ApiError {
  const code = (err as { code?: unknown } | undefined)?.code;
  return new ApiError("unavailable", { "Retry-After": String(DB_RETRY_AFTER_SECONDS) }, code ? `${detail} (${String(code)})` : detail);
}

/** Least time left to start a transaction or send its COMMIT. */
const marginOf = (d: Deadline) => Math.min(100, d.budgetMs / 10);

const noop = () => {};

/** `p`, or DeadlineExceeded when the deadline passes first. */
function within<T>(p: Promise<T>, d: Deadline | undefined): Promise<T> {
  return d ? Promise.race([p, d.expired]) : p;
}

/** The part of postgres.js' connection object used to destroy a reserved connection. */
interface RawConnection {
  terminate(): void;
}

/**
 * The reserved connection as the caller's `tx`: once the transaction is over (finished, given
 * up, lost), a query still issued through it fails instead of reaching a connection the pool
 * may have reopened for someone else.
 */
function guarded(conn: postgres.ReservedSql, closed: { value: boolean }): Tx {
  type Handler = ((q: { reject(e: unknown): void }) => void) & { debug?: unknown };
  let inner: Handler | undefined;
  let guard: Handler | undefined;
  const wrap = <Q>(q: Q): Q => {
    const query = q as unknown as { handler?: Handler };
    if (typeof query?.handler === "function") {
      if (query.handler !== inner) {
        const h = (inner = query.handler);
        guard = ((x) => (closed.value ? x.reject(Object.assign(new Error("transaction is over"), { code: "CONNECTION_ENDED" })) : h(x))) as Handler;
        guard.debug = h.debug;
      }
      query.handler = guard;
    }
    return q;
  };
  const tx = ((strings: TemplateStringsArray, ...args: unknown[]) => wrap((conn as unknown as (...a: unknown[]) => unknown)(strings, ...args)));
  Object.assign(tx, conn, {
    unsafe: (...a: Parameters<postgres.Sql["unsafe"]>) => wrap(conn.unsafe(...a)),
    file: (...a: Parameters<postgres.Sql["file"]>) => wrap(conn.file(...a)),
  });
  return tx as unknown as Tx;
}

export function createDb(opts: DbOptions): Db {
  const sql = postgres(opts.url, {
    max: opts.max ?? 10,
    prepare: opts.prepare ?? true,
    idle_timeout: 30,
    connect_timeout: 10,
    // Reconnect soon after an outage: postgres.js' default backoff (3^n/100 s, up to 20 s) left
    // a restarted database unused for seconds. Seconds, jittered, at most 1.
    backoff: (retries: number) => (0.5 + Math.random() / 2) * Math.min(0.05 * 2 ** retries, 1),
    onnotice: () => {},
    debug: opts.onStatement && ((connection: number, query: string) => opts.onStatement!(connection, query)),
    connection: { statement_timeout: opts.statementTimeoutMs ?? 10_000, application_name: "edge-functions" },
    // After onclose has run (it may have taken a waiting reservation): ask again for each one.
    onclose: () => setTimeout(() => waiting.forEach((ask) => ask()), 0),
  });

  /**
   * The reservations still waiting for a connection. In postgres.js 3.4.9 a reserve() queued
   * when a pooled connection closes is handed to that connection's reconnect, which drops it: it
   * never settles (porsager/postgres#1195, open). So every close asks again for each waiting
   * reservation; the first connection to arrive is used, any later one released at once.
   */
  const waiting = new Set<() => void>();
  function reserveConnection(): Promise<postgres.ReservedSql> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const ask = () => {
        sql.reserve().then((c) => {
          if (settled) return c.release();
          settled = true;
          waiting.delete(ask);
          resolve(c);
        }, (err) => {
          if (settled) return;
          settled = true;
          waiting.delete(ask);
          reject(err);
        });
      };
      waiting.add(ask);
      ask();
    });
  }

  /** A reserved connection before the deadline; one that arrives later goes straight back. */
  async function reserve(d: Deadline | undefined): Promise<postgres.ReservedSql> {
    if (!d) return await reserveConnection();
    if (d.remaining() < marginOf(d)) throw unavailable("deadline passed before the transaction");
    const pending = reserveConnection();
    try {
      return await Promise.race([pending, d.expired]);
    } catch (err) {
      pending.then((c) => c.release(), noop);
      if (err instanceof DeadlineExceeded) throw unavailable("no connection before the deadline");
      // No connection for whatever reason (lost, refused, a statement of its previous life
      // cancelled): the database is not available to this request.
      throw unavailable("database unreachable", err);
    }
  }

  async function run<T>(claims: JWTPayload | null, fn: (tx: Tx) => Promise<T>, o: RunOptions = {}): Promise<T> {
    const d = currentDeadline();
    const conn = await reserve(d);
    const closed = { value: false };
    let raw: RawConnection | undefined;
    let released = false; // lost, destroyed or already rolled back on the server: never released
    let rolledBack = false;
    const rule = o.rateLimit;
    const limit = !rule
      ? conn`null as rl`
      : rule.memberOf
        ? isUuid(rule.memberOf.distributorId)
          ? conn`private.rate_limit_take_member(${rule.key}, ${rule.limit}, ${rule.windowSeconds},
              ${rule.memberOf.distributorId}, ${rule.memberOf.userId}) as rl`
          : conn`null as rl` // not a distributor id: the request is answered 404 anyway
        : conn`private.rate_limit_take(${rule.key}, ${rule.limit}, ${rule.windowSeconds}) as rl`;
    // The server's backstop for a request with a deadline: no statement, and no idle wait inside
    // the transaction, outlives it (set in the set-up statement: no extra round trip).
    const timeouts = !d
      ? conn``
      : conn`, set_config('statement_timeout', ${String(Math.max(1, Math.ceil(d.remaining())))}, true),
          set_config('idle_in_transaction_session_timeout', ${String(Math.ceil(d.remaining()) + 1000)}, true)`;
    // Written in this order on one connection before any reply is read; replies come back in order.
    // BEGIN also hands over postgres.js' connection object, to destroy it if the request is given up.
    const begin = conn.unsafe("begin", [], { onexecute: (c: RawConnection) => ((raw = c), true) } as postgres.UnsafeQueryOptions).execute();
    const setup = (claims
      ? conn<{ rl: RateLimitHit }[]>`select set_config('role', 'edge_user', true),
          set_config('request.jwt.claims', ${JSON.stringify(claims)}, true), ${limit}${timeouts}`
      : conn<{ rl: RateLimitHit }[]>`select ${limit}${timeouts}`).execute();
    const ready = Promise.all([begin, setup]);
    ready.catch(noop); // observed below; avoid an unhandled rejection meanwhile
    const destroy = () => {
      released = true;
      raw?.terminate(); // in-flight queries fail; the server rolls back; the pool reconnects later
    };
    try {
      let result: T;
      const work = fn(guarded(conn, closed));
      try {
        result = await within(work, d);
      } catch (err) {
        if (err instanceof DeadlineExceeded) {
          work.catch(noop); // still running; its queries fail once the connection is destroyed
          throw err;
        }
        await within(ready, d); // a set-up failure (e.g. the rate limit) explains the caller's failure
        throw err;
      }
      const [, [state]] = await within(ready, d);
      if (!d) {
        await conn`commit`;
      } else {
        const left = Math.floor(d.remaining());
        if (left < marginOf(d)) throw new DeadlineExceeded(); // never COMMIT this late
        // The server commits only while its own clock says the deadline has not passed: now() (the
        // transaction's start) is no later than the BEGIN reply we got, so now() + left is no later
        // than our deadline. Pipelined with COMMIT: one round trip, as before.
        const check = conn`select 1 / (case when clock_timestamp() < now() + ${left}::int * interval '1 millisecond'
                                            then 1 else 0 end) as ok`.execute()
          .then(() => true, (e) => {
            if ((e as { code?: string })?.code === DIVISION_BY_ZERO) return false;
            throw e;
          });
        const committed = Promise.all([check, conn`commit`.execute()]);
        committed.catch(noop);
        let ok: boolean;
        try {
          [ok] = await within(committed, d);
        } catch (err) {
          if (!(err instanceof DeadlineExceeded)) throw err;
          // COMMIT is on its way: its reply decides, if it comes soon.
          let timer: ReturnType<typeof setTimeout> | undefined;
          const grace = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new DeadlineExceeded()), COMMIT_GRACE_MS)));
          try {
            [ok] = await Promise.race([committed, grace]);
          } finally {
            clearTimeout(timer);
          }
        }
        if (!ok) {
          rolledBack = true; // the COMMIT after the failed check was a ROLLBACK
          throw unavailable("the database reached the deadline before COMMIT");
        }
      }
      reportRateLimit(o, state?.rl);
      return result;
    } catch (err) {
      if (err instanceof DeadlineExceeded) {
        destroy();
        throw unavailable("request deadline passed during the transaction");
      }
      // A lost connection has no transaction left to roll back, and postgres.js crashes on a
      // write to a closed reserved connection: only roll back a live one.
      if (isConnectionLost(err)) {
        released = true;
        throw unavailable("database connection lost", err);
      }
      if (!rolledBack) {
        if (d?.passed) destroy();
        else {
          try {
            await within(conn`rollback`, d);
          } catch {
            destroy(); // a ROLLBACK that does not come back in time: the disconnect rolls back
          }
        }
      }
      if (err instanceof ApiError) throw err;
      if ((err as { code?: string })?.code === QUERY_CANCELED) throw unavailable("statement timed out", err);
      throw (rule && rateLimitError(err, rule)) || err;
    } finally {
      closed.value = true;
      // postgres.js already moved a lost connection to its closed queue, and a destroyed one
      // goes there when its socket closes; releasing either would put it back into the open queue.
      if (!released) conn.release();
    }
  }

  async function asUser<R extends RateLimitColumn>(
    user: UserContext,
    build: (sql: Sql, request: postgres.Parameter) => Promise<R[]>,
    o: StatementOptions = {},
  ): Promise<R[]> {
    const d = currentDeadline();
    if (d && d.remaining() < marginOf(d)) throw unavailable("deadline passed before the statement");
    const rule = o.rateLimit;
    const request = sql.json({
      claims: { ...user.claims, sub: user.id } as postgres.JSONValue,
      rateLimit: rule ? { key: rule.key, limit: rule.limit, windowSeconds: rule.windowSeconds } : null,
      requireSession: o.requireSession ?? false,
    });
    const work = build(sql, request);
    try {
      const rows = await within(work, d);
      reportRateLimit(o, rows[0]?.rate_limit);
      return rows;
    } catch (err) {
      // One statement on a shared pipelined connection: given up on, it is left to finish (or
      // to the pool's statement_timeout); cancelling could hit another request's statement.
      if (err instanceof DeadlineExceeded) {
        work.catch(noop);
        throw unavailable("request deadline passed during the statement");
      }
      if (isConnectionLost(err)) throw unavailable("database connection lost", err);
      const code = (err as { code?: string })?.code;
      if (code === QUERY_CANCELED) throw unavailable("statement timed out", err);
      if (code === SESSION_GONE) throw new ApiError("unauthorized", {}, "session no longer exists");
      throw (rule && rateLimitError(err, rule)) || err;
    }
  }

  return {
    sql,
    withUser: (user, fn, o) => run({ ...user.claims, sub: user.id }, fn, o),
    asUser,
    withService: (fn, o) => run(null, fn, o),
    end: () => sql.end({ timeout: 5 }),
  };
}
