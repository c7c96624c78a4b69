// The one writer of audit rows. Callers pass the transaction of the operation being recorded,
// so the audit row commits or rolls back with it. Rows go through a security-definer function
// in the private schema: users never hold INSERT on audit tables.
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
