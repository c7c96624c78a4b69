// Variables of webhooks, webhook-deliver and security monitoring. Merged into the one schema in ./index.ts.
import { bool, csv, int, matching, oneOf, text, url, type VarShape } from "./types.ts";

export const webhooksConfig = {
  // Development only: allow http:// and loopback receivers (refused at start-up in production, see
  // assertWebhooksConfig in shared/webhooks/config.ts).
  WEBHOOKS_ALLOW_LOOPBACK: bool().default(false),
  // "production" (or unset on Supabase) forbids the development flags above.
  ENVIRONMENT: oneOf(["development", "test", "staging", "production"]).default("production"),
  // Bearer secret every scheduler that calls HTTP presents (webhook-deliver, retention-cleanup).
  CRON_SECRET: text({ min: 32, message: "must be at least 32 characters" }).optional(),
  // Security monitoring: requests per client IP in 5 minutes before a temporary block.
  SECURITY_IP_LIMIT: int(1, 1_000_000).default(100),
  SECURITY_BLOCK_SECONDS: int(1, 7 * 24 * 3600).default(15 * 60),
  // Never counted or blocked (CIDRs or single addresses, comma separated).
  SECURITY_TRUSTED_IPS: csv().default([]),
  // Incidents of severity high are POSTed here, signed like customer webhooks.
  SECURITY_ALERT_WEBHOOK_URL: url().optional(),
  SECURITY_ALERT_WEBHOOK_SECRET: matching(/^whsec_[A-Za-z0-9+/=]{16,}$/, "must be whsec_<base64>").optional(),
  // On/off switch for the monitoring middleware (the benchmark measures both).
  SECURITY_MONITORING: bool().default(true),
} satisfies VarShape;
