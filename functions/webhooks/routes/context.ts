// What the webhooks routes share: their context, schemas and small helpers.
import { z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { ApiError, type AppEnv } from "../../../shared/http/index.ts";
import type { Deps } from "../../../shared/runtime/deps.ts";
import { text, toIso } from "../../../shared/schemas/index.ts";
import { tenant } from "../../../shared/tenancy/index.ts";
import { EVENT_TYPES } from "../../../shared/webhooks/config.ts";
import { checkTarget, UrlRefused, type Resolver, type UrlPolicy } from "../../../shared/webhooks/ssrf.ts";

export interface RouteContext {
  deps: Deps;
  auth: MiddlewareHandler<AppEnv>;
  policy: UrlPolicy;
  resolve: Resolver;
}

export const manage = (deps: Deps) => tenant(deps, "webhooks.manage");

export const DistributorHeader = z.object({
  "x-distributor-id": z.string().openapi({ description: "The distributor acted for", example: "7d6c1a3e-5b2f-4c8e-9a1d-2f3e4b5c6d7e" }),
});

const Timestamp = z.string().openapi({ format: "date-time", example: "2026-01-31T09:30:00.000Z" });
export const EventTypeSchema = z.enum(EVENT_TYPES).openapi("WebhookEventType");
const Events = z.array(EventTypeSchema).min(1).max(EVENT_TYPES.length)
  .refine((a) => new Set(a).size === a.length, "events must not repeat");
const Url = z.string().min(1).max(2048).openapi({ example: "https://erp.example.com/hooks/whatsapp" });

export const CreateEndpointBody = z.object({
  url: Url,
  events: Events,
  description: text().max(500).optional(),
}).strict().openapi("CreateWebhookEndpoint");

export const UpdateEndpointBody = z.object({
  url: Url.optional(),
  events: Events.optional(),
  enabled: z.boolean().optional(),
  description: text().max(500).nullable().optional(),
}).strict().refine((b) => Object.keys(b).length > 0, "nothing to change").openapi("UpdateWebhookEndpoint");

export const EndpointSchema = z.object({
  id: z.string().uuid(),
  url: z.string(),
  events: z.array(EventTypeSchema),
  description: z.string().nullable(),
  enabled: z.boolean(),
  disabled_reason: z.enum(["gone", "failing", "user"]).nullable(),
  previous_secret_expires_at: Timestamp.nullable(),
  created_at: Timestamp,
  updated_at: Timestamp,
}).openapi("WebhookEndpoint");

export const CreatedEndpointSchema = EndpointSchema.extend({
  secret: z.string().openapi({ description: "The signing secret (whsec_<base64>): shown once, never again", example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }),
}).openapi("CreatedWebhookEndpoint");

export const EndpointParams = z.object({
  id: z.string().uuid().openapi({ param: { name: "id", in: "path" }, description: "Endpoint id" }),
});

export interface EndpointRow {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  enabled: boolean;
  disabled_reason: "gone" | "failing" | "user" | null;
  previous_expires_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export const endpointOut = (r: EndpointRow, now: Date) => ({
  id: r.id,
  url: r.url,
  events: r.events as z.infer<typeof EventTypeSchema>[],
  description: r.description,
  enabled: r.enabled,
  disabled_reason: r.disabled_reason,
  previous_secret_expires_at: r.previous_expires_at && r.previous_expires_at > now ? toIso(r.previous_expires_at) : null,
  created_at: toIso(r.created_at),
  updated_at: toIso(r.updated_at),
});

/** The SSRF check of a URL a user gives: a refusal is a 400 naming `url` (never why in detail). */
export async function checkedUrl(ctx: RouteContext, raw: string): Promise<string> {
  try {
    const { url } = await checkTarget(raw, ctx.policy, ctx.resolve);
    return url.href;
  } catch (err) {
    if (err instanceof UrlRefused) {
      throw new ApiError("invalid_request", {}, `url refused: ${err.reason}`, [{ in: "body", path: "url", code: `url_${err.reason}` }]);
    }
    throw err;
  }
}
