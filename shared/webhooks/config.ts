// Start-up rules of the webhook settings (refused configurations name the variable only).
import { ConfigError, type Config } from "../config/index.ts";
import type { UrlPolicy } from "./ssrf.ts";

/** WEBHOOKS_ALLOW_LOOPBACK is a development flag: refused when ENVIRONMENT is production. */
export function assertWebhooksConfig(config: Pick<Config, "WEBHOOKS_ALLOW_LOOPBACK" | "ENVIRONMENT">): void {
  if (config.WEBHOOKS_ALLOW_LOOPBACK && config.ENVIRONMENT === "production") {
    throw new ConfigError(["WEBHOOKS_ALLOW_LOOPBACK"], "WEBHOOKS_ALLOW_LOOPBACK must not be set when ENVIRONMENT is production");
  }
}

export function urlPolicy(config: Pick<Config, "WEBHOOKS_ALLOW_LOOPBACK" | "ENVIRONMENT">): UrlPolicy {
  assertWebhooksConfig(config);
  return { allowLoopback: config.WEBHOOKS_ALLOW_LOOPBACK };
}

export const EVENT_TYPES = [
  "message.received", "message.status_updated", "order.created", "order.confirmed", "customer.updated", "webhook.test",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** How long the previous secret keeps signing after a rotation. */
export const ROTATION_OVERLAP_SECONDS = 24 * 3600;
