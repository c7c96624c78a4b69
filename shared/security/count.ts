// The per-client-IP count of one request (shared/security/monitor.ts), as shared/db folds it into
// the request's first database round trip instead of a statement of its own:
// - a transaction (withUser/withService) sends `select <ipCountCall>` on its reserved connection
//   right before BEGIN, in the same write: its own short autocommit, so the count holds its row
//   lock only for itself and stands whatever the route's transaction does; the transaction's
//   set-up statement then calls private.security_refuse, which aborts it (P0439) when the
//   address is blocked, before any statement of the route can act;
// - a one-statement request (asUser) hands the count to private.begin_user_request, which counts
//   inside the statement and aborts it when blocked (the count is then rolled back with it, and
//   the monitor counts again on its own).
// A request that reaches no database at all is counted by the monitor after the route.
import type postgres from "postgres";

/** Counting window of every private.security_count key (seconds). */
export const WINDOW_SECONDS = 5 * 60;

/** SQLSTATE raised by private.security_refuse and private.begin_user_request for a blocked address. */
export const BLOCKED_SQLSTATE = "P0439";

export interface ClientCount {
  /** 'ip:<address>' */
  key: string;
  ip: string;
  limit: number;
  blockSeconds: number;
  details: Record<string, unknown>;
  /**
   * pending: not sent yet; sent: on its way with a statement whose outcome decides; counted:
   * committed, `wait` is the answer (seconds the address must still wait, 0: go ahead).
   */
  state: "pending" | "sent" | "counted";
  wait: number;
}

/**
 * The counting statement, its own transaction (a rate_anomaly of severity high past the limit).
 * Its commit does not wait for the WAL flush: a counter lost in a crash costs nothing, a
 * reserved connection held for a flush costs every request.
 */
export function ipCountStatement(sql: postgres.Sql, c: ClientCount): postgres.PendingQuery<{ wait: number }[]> {
  return sql<{ wait: number }[]>`select set_config('synchronous_commit', 'off', true),
    private.security_count(${c.key}, ${c.ip}::inet, null, 'rate_anomaly', 'high', ${c.limit}, ${WINDOW_SECONDS},
                           ${c.blockSeconds}, ${sql.json(c.details as postgres.JSONValue)}) as wait`;
}

/** The argument of private.begin_user_request's `security` member. */
export function countRequest(c: ClientCount): postgres.JSONValue {
  return { key: c.key, ip: c.ip, limit: c.limit, windowSeconds: WINDOW_SECONDS, blockSeconds: c.blockSeconds, details: c.details as postgres.JSONValue };
}
