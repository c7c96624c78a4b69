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
import postgres from "postgres";
import type { JWTPayload } from "jose";
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

/** postgres.js connection errors, server shutdown (57P0x) and socket errors. */
export function isConnectionLost(err: unknown): boolean {
  const code = String((err as { code?: unknown })?.code ?? "");
  return code.startsWith("CONNECTION_") || code.startsWith("57P0") || ["ECONNRESET", "EPIPE", "ECONNREFUSED", "ETIMEDOUT"].includes(code);
}

export function createDb(opts: DbOptions): Db {
  const sql = postgres(opts.url, {
    max: opts.max ?? 10,
    prepare: opts.prepare ?? true,
    idle_timeout: 30,
    connect_timeout: 10,
    onnotice: () => {},
    connection: { statement_timeout: opts.statementTimeoutMs ?? 10_000, application_name: "edge-functions" },
  });

  async function run<T>(claims: JWTPayload | null, fn: (tx: Tx) => Promise<T>, o: RunOptions = {}): Promise<T> {
    const conn = await sql.reserve();
    let lost = false;
    const rule = o.rateLimit;
    const limit = !rule
      ? conn`null as rl`
      : rule.memberOf
        ? isUuid(rule.memberOf.distributorId)
          ? conn`private.rate_limit_take_member(${rule.key}, ${rule.limit}, ${rule.windowSeconds},
              ${rule.memberOf.distributorId}, ${rule.memberOf.userId}) as rl`
          : conn`null as rl` // not a distributor id: the request is answered 404 anyway
        : conn`private.rate_limit_take(${rule.key}, ${rule.limit}, ${rule.windowSeconds}) as rl`;
    // Written in this order on one connection before any reply is read; replies come back in order.
    const begin = conn`begin`.execute();
    const setup = (claims
      ? conn<{ rl: RateLimitHit }[]>`select set_config('role', 'edge_user', true),
          set_config('request.jwt.claims', ${JSON.stringify(claims)}, true), ${limit}`
      : conn<{ rl: RateLimitHit }[]>`select ${limit}`).execute();
    const ready = Promise.all([begin, setup]);
    ready.catch(() => {}); // observed below; avoid an unhandled rejection meanwhile
    try {
      let result: T;
      try {
        result = await fn(conn);
      } catch (err) {
        await ready; // a set-up failure (e.g. the rate limit) explains the caller's failure
        throw err;
      }
      const [, [state]] = await ready;
      await conn`commit`;
      reportRateLimit(o, state?.rl);
      return result;
    } catch (err) {
      // A lost connection has no transaction left to roll back, and postgres.js crashes on a
      // write to a closed reserved connection: only roll back a live one.
      lost = isConnectionLost(err);
      if (!lost) await conn`rollback`.catch(() => {});
      throw (rule && rateLimitError(err, rule)) || err;
    } finally {
      // postgres.js already moved a lost connection to its closed queue; releasing it would put
      // the dead connection back into the open queue.
      if (!lost) conn.release();
    }
  }

  async function asUser<R extends RateLimitColumn>(
    user: UserContext,
    build: (sql: Sql, request: postgres.Parameter) => Promise<R[]>,
    o: StatementOptions = {},
  ): Promise<R[]> {
    const rule = o.rateLimit;
    const request = sql.json({
      claims: { ...user.claims, sub: user.id } as postgres.JSONValue,
      rateLimit: rule ? { key: rule.key, limit: rule.limit, windowSeconds: rule.windowSeconds } : null,
      requireSession: o.requireSession ?? false,
    });
    try {
      const rows = await build(sql, request);
      reportRateLimit(o, rows[0]?.rate_limit);
      return rows;
    } catch (err) {
      if ((err as { code?: string })?.code === SESSION_GONE) throw new ApiError("unauthorized", {}, "session no longer exists");
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
