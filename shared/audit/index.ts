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

export function writeSecretAudit(tx: Tx, e: SecretAuditEntry) {
  return tx`select private.write_secret_audit(${e.userId}, ${e.serviceName}, ${e.operation},
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
  return tx`select private.write_data_access_audit(${e.distributorId}, ${e.userId}, ${e.action}, ${e.tableName ?? null},
    ${e.recordId ?? null}, ${e.ip ?? null}, ${e.userAgent ?? null}, ${tx.json((e.details ?? {}) as never)})`;
}
