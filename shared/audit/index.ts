// The one writer of audit rows. Callers pass the transaction of the operation being recorded,
// so the audit row commits or rolls back with it. Rows go through a security-definer function
// in the private schema: users never hold INSERT on audit tables. (In SQL, secret_audit_logs has
// one insert, private.insert_secret_audit, which one-statement functions call directly.)
import type { Tx } from "../db/index.ts";

export type SecretOperation = "create" | "read" | "update" | "delete" | "invalid";

export interface SecretAuditEntry {
  userId: string;
  serviceName: string | null;
  operation: SecretOperation;
  ip: string | null;
  userAgent: string | null;
  success: boolean;
  /** Sanitized: one of our generic messages, never an exception's text. */
  error?: string | null;
}

/** A SQL expression in a statement of the caller's transaction: a column (`ins.id`), a jsonb builder… */
export type SqlExpression = ReturnType<Tx>;

export function writeSecretAudit(tx: Tx, e: SecretAuditEntry) {
  return tx`select ${secretAuditCall(tx, e)}`;
}

/**
 * The call that writes one secret_audit_logs row, as a fragment to embed in a statement (e.g.
 * `select ${secretAuditCall(tx, {…, operationSql: tx`case … end`})} from up`).
 */
export function secretAuditCall(tx: Tx, e: Omit<SecretAuditEntry, "operation"> & { operation: SecretOperation | SqlExpression }) {
  const op = typeof e.operation === "string" ? tx`${e.operation}` : e.operation;
  return tx`private.write_secret_audit(${e.userId}, ${e.serviceName}, ${op},
    ${e.ip}, ${e.userAgent}, ${e.success}, ${e.error ?? null})`;
}

export interface DataAccessEntry {
  distributorId: string;
  userId: string | null;
  /** e.g. "member.add", "messages.read_content", "customers.export". */
  action: string;
  tableName?: string | null;
  recordId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  /** Ids, counts and roles only; never content or personal data. */
  details?: Record<string, unknown>;
}

export function writeDataAccessAudit(tx: Tx, e: DataAccessEntry) {
  return tx`select ${dataAccessAuditCall(tx, e)}`;
}

/**
 * The call that writes one data_access_audit row, as a fragment to embed in a statement of the
 * caller's transaction, so a write and its audit row are one statement (e.g.
 * `audit as (select ${dataAccessAuditCall(tx, { …, recordIdSql: tx`ins.id` })} from ins)`).
 * `recordIdSql` / `detailsSql` take SQL expressions where the value comes from the statement.
 */
export function dataAccessAuditCall(tx: Tx, e: DataAccessEntry & { recordIdSql?: SqlExpression; detailsSql?: SqlExpression }) {
  const recordId = e.recordIdSql ?? tx`${e.recordId ?? null}::uuid`;
  const details = e.detailsSql ?? tx`${tx.json((e.details ?? {}) as never)}`;
  return tx`private.write_data_access_audit(${e.distributorId}, ${e.userId}, ${e.action}, ${e.tableName ?? null},
    ${recordId}, ${e.ip ?? null}, ${e.userAgent ?? null}, ${details})`;
}
