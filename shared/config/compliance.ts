// Variables of audit-query, privacy, retention-cleanup, support-tickets: cron secret, retention. Merged into the one schema in ./index.ts.
import { int, type VarShape } from "./types.ts";

export const complianceConfig = {
  // CRON_SECRET (Bearer secret of POST /functions/v1/retention-cleanup too) is declared once, in
  // ./webhooks.ts: one secret for every scheduler that calls HTTP.
  // Rows per DELETE statement (and per transaction) of the retention cleanup.
  RETENTION_BATCH_SIZE: int(1, 50_000).default(1_000),
  // Rows one HTTP-triggered cleanup deletes at most; the next call continues.
  RETENTION_MAX_ROWS_PER_RUN: int(1, 10_000_000).default(200_000),
  // npm start: seconds between cleanups in development (0 = off). Tests never start it.
  RETENTION_DEV_INTERVAL_SECONDS: int(0, 7 * 24 * 3600).default(24 * 3600),
} satisfies VarShape;
