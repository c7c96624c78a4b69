// The tenant gate: route middleware that names the distributor a request acts for and makes
// sure nothing of that distributor is touched before membership and permission are confirmed.
//
//   middleware: [auth, tenant(deps, "messages.write")]
//   handler:    const t = c.get("tenant"); await t.transaction(async (tx) => …)
//
// The check answers, in order: not a member (or unknown, malformed id) → 404, role lacks the
// permission → 403, sensitive permission without aal2 → 403 mfa_required, session signed out
// → 401. It runs inside the route's own transaction, pipelined ahead of the route's statements
// (one round trip saved on every request); whatever the route throws, a failed gate wins and
// the transaction rolls back. Keys are reachable only through the scope, after the gate. If a
// route never opens a transaction (a 400 from the validators, say), the middleware runs the
// check on its own afterwards, so a caller without access always gets 404/403, never a 400.
import type { MiddlewareHandler } from "hono";
import type { AuthUser } from "../auth/index.ts";
import { dataAccessAuditCall, writeDataAccessAudit, type SqlExpression } from "../audit/index.ts";
import type { Db, RunOptions, Tx } from "../db/index.ts";
import { ApiError } from "../http/errors.ts";
import { clientIp, countFailure, remembered, userAgent, type AppEnv } from "../http/index.ts";
import type { Config } from "../config/index.ts";
import type { DistributorKeyCache, DistributorKeys } from "./keys.ts";
import { can, SENSITIVE_PERMISSIONS, type Permission, type Role } from "./permissions.ts";
import { isUuid } from "../uuid/index.ts";

export const DISTRIBUTOR_HEADER = "x-distributor-id";

export interface GateDeps {
  db: Db;
  tenantKeys: DistributorKeyCache;
  config: Pick<Config, "REQUIRE_MFA_FOR_ADMIN_ACTIONS">;
}

export interface GateOptions {
  /** Where the distributor id comes from: the x-distributor-id header (default) or a path parameter. */
  from?: "header" | { param: string };
  /** Rate limit taken in the route's transaction (e.g. per-distributor sends). */
  runOptions?: (c: Parameters<MiddlewareHandler<AppEnv>>[0], distributorId: string) => RunOptions;
}

interface GateRow {
  role: Role | null;
  session_ok: boolean;
}

export class TenantScope {
  #gate: Promise<Role> | null = null;

  constructor(
    private readonly deps: GateDeps,
    readonly id: string,
    readonly user: AuthUser,
    readonly permission: Permission,
    readonly ip: string | null,
    readonly userAgent: string | null,
    private readonly runOptions: RunOptions | undefined,
  ) {}

  get sensitive(): boolean {
    return SENSITIVE_PERMISSIONS.has(this.permission);
  }

  /** The caller's role, read on `tx` (with the session check when it matters). */
  private readRole(tx: Tx, lock: "" | "share" = ""): Promise<Role> {
    const sessionId = this.sensitive ? sessionIdOf(this.user) : null;
    const p = tx<GateRow[]>`
      select (select role from public.distributor_members
              where distributor_id = ${this.id} and user_id = ${this.user.id} ${lock ? tx`for share` : tx``}) as role,
             ${sessionId ? tx`private.session_alive(${sessionId}::uuid)` : tx`true`} as session_ok`
      .then(([row]) => this.judge(row?.role ?? undefined, row?.session_ok ?? false));
    p.catch(() => {}); // observed by verified()
    return p;
  }

  /** Membership, permission, MFA, session: in this order. */
  judge(role: Role | undefined, sessionOk = true): Role {
    if (!role) throw new ApiError("not_found", {}, "not a member");
    if (!can(role, this.permission)) throw new ApiError("forbidden", {}, `role ${role} lacks ${this.permission}`);
    if (this.sensitive) {
      if (this.deps.config.REQUIRE_MFA_FOR_ADMIN_ACTIONS && this.user.aal !== "aal2") throw new ApiError("mfa_required");
      if (!sessionOk) throw new ApiError("unauthorized", {}, "session no longer exists");
    }
    return role;
  }

  /**
   * Run `fn` in ONE user transaction (RLS applies) behind the gate. The membership read goes
   * first on the wire and `fn`'s statements right behind it; `fn` must await `t.verified()`
   * (or use `t.keys`) before it decrypts or acts on earlier results — RLS filters every
   * statement by membership meanwhile. A failed gate wins over whatever `fn` throws.
   */
  async transaction<T>(fn: (tx: Tx, t: this) => Promise<T>): Promise<T> {
    return await this.deps.db.withUser(this.user, async (tx) => {
      this.#gate = this.readRole(tx);
      const work = (async () => await fn(tx, this))();
      // Wait for both, so no statement of `fn` outlives the transaction.
      const [gate, result] = await Promise.allSettled([this.#gate, work]);
      if (gate.status === "rejected") {
        // No verdict when the transaction failed before the membership read could answer (its
        // rate limit, taken first, aborts it: 25P02): forget it, so verified() checks on its own
        // and the transaction's own error (429) stands for a caller the gate lets through.
        if (!(gate.reason instanceof ApiError)) this.#gate = null;
        throw gate.reason;
      }
      if (result.status === "rejected") throw result.reason;
      return result.value;
    }, this.runOptions);
  }

  /**
   * Run `fn` in a service transaction (RLS off: every statement names the distributor) after
   * the gate. `readRole` reads — and locks — the caller's role; by default `for share`, so the
   * role cannot change until commit. Nothing of `fn` runs before the gate has passed.
   */
  async serviceTransaction<T>(fn: (tx: Tx, t: this) => Promise<T>, readRole?: (tx: Tx) => Promise<Role | undefined>): Promise<T> {
    return await this.deps.db.withService(async (tx) => {
      this.#gate = readRole
        ? (async () => {
          const sessionId = this.sensitive ? sessionIdOf(this.user) : null;
          const [role, [s]] = await Promise.all([
            readRole(tx),
            tx<{ ok: boolean }[]>`select ${sessionId ? tx`private.session_alive(${sessionId}::uuid)` : tx`true`} as ok`,
          ]);
          return this.judge(role, s.ok);
        })()
        : this.readRole(tx, "share");
      await this.#gate;
      return await fn(tx, this);
    }, this.runOptions);
  }

  /** The confirmed role; checks on its own when no transaction of the route has. */
  verified(): Promise<Role> {
    this.#gate ??= this.deps.db.withUser(this.user, (tx) => this.readRole(tx));
    return this.#gate;
  }

  /** The distributor's data and lookup keys, only once the gate has passed. */
  async keys(tx: Tx): Promise<DistributorKeys> {
    await this.verified();
    return await this.deps.tenantKeys.get(this.id, tx);
  }

  /** A data_access_audit row in the caller's transaction: ids, counts and roles only. */
  audit(tx: Tx, action: string, table: string | null, recordId: string | null, details: Record<string, unknown> = {}) {
    return writeDataAccessAudit(tx, {
      distributorId: this.id, userId: this.user.id, action, tableName: table, recordId, ip: this.ip, userAgent: this.userAgent, details,
    });
  }

  /** The same row as a fragment of one of the route's statements (see dataAccessAuditCall). */
  auditCall(tx: Tx, action: string, table: string | null, o: { recordIdSql?: SqlExpression; detailsSql?: SqlExpression; recordId?: string | null } = {}) {
    return dataAccessAuditCall(tx, {
      distributorId: this.id, userId: this.user.id, action, tableName: table, ip: this.ip, userAgent: this.userAgent, ...o,
    });
  }
}

/** Supabase puts the session id in every access token; tokens minted by the backend may lack it. */
function sessionIdOf(user: AuthUser): string | null {
  const s = user.claims.session_id;
  return isUuid(s) ? s : null;
}

/** The distributor id of a request: header missing → 400 (a client bug); malformed → 404, like an unknown id. */
function distributorIdOf(c: Parameters<MiddlewareHandler<AppEnv>>[0], from: GateOptions["from"]): string {
  if (from && from !== "header") {
    const raw = c.req.param(from.param);
    if (!isUuid(raw)) throw new ApiError("not_found", {}, "distributor id malformed");
    return raw.toLowerCase();
  }
  const raw = c.req.header(DISTRIBUTOR_HEADER);
  if (raw === undefined || raw.trim() === "") {
    throw new ApiError("invalid_request", {}, "x-distributor-id missing", [{ in: "header", path: DISTRIBUTOR_HEADER, code: "missing" }]);
  }
  if (!isUuid(raw.trim())) throw new ApiError("not_found", {}, "x-distributor-id malformed");
  return raw.trim().toLowerCase();
}

/** Route middleware: act for one distributor with `permission` (after requireUser). */
export function tenant(deps: GateDeps, permission: Permission, opts: GateOptions = {}): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const id = distributorIdOf(c, opts.from);
    const limits = opts.runOptions ? remembered(c, opts.runOptions(c, id)) : undefined;
    const scope = new TenantScope(deps, id, c.get("user"), permission, clientIp(c), userAgent(c), limits);
    c.set("tenant", scope);
    await next();
    // The gate decides first, whatever the route answered (its transaction already rolled
    // back if the gate failed there; this only changes what the caller is told).
    await scope.verified();
    await countFailure(deps.db, c, limits);
  };
}
