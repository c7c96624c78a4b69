// Variables of audit-query, privacy, retention-cleanup, support-tickets: cron secret, retention. Merged into the one schema in ./index.ts.
import type { z } from "zod";

export const complianceConfig = {} satisfies z.ZodRawShape;
