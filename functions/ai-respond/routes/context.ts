// What the routes of ai-respond share: deps, requireUser, the gateway, schemas for headers and ids.
import { z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { rateLimitHeaders, type RunOptions } from "../../../shared/db/index.ts";
import type { AppEnv } from "../../../shared/http/index.ts";
import type { Deps } from "../../../shared/runtime/deps.ts";
import { DISTRIBUTOR_HEADER, isUuid } from "../../../shared/tenancy/index.ts";
import type { Gateway } from "../gateway.ts";
import { PROVIDER_IDS } from "../../../shared/ai/registry.ts";

export { DISTRIBUTOR_HEADER };
export type Ctx = Context<AppEnv>;

export interface RouteContext {
  deps: Deps;
  auth: MiddlewareHandler<AppEnv>;
  gw: Gateway;
}

export const DistributorHeaders = z.object({
  [DISTRIBUTOR_HEADER]: z.string().openapi({
    param: { name: DISTRIBUTOR_HEADER, in: "header" },
    description: "The distributor to act for (a UUID); the caller must be a member. Missing → 400; malformed, unknown or not a member → 404.",
    example: "3f2b6c1e-8d4a-4b7e-9c2f-1a2b3c4d5e6f",
  }),
});

export const uuidParam = (name: string) =>
  z.string().refine(isUuid, { message: "not a UUID" }).openapi({ param: { name, in: "path" }, format: "uuid" });

export const AGENT_TYPE = /^[a-z][a-z0-9_]{0,39}$/;
export const agentTypeSchema = z.string().regex(AGENT_TYPE).openapi({ example: "customer_support" });
export const providerSchema = z.enum(PROVIDER_IDS);

export const Usage = z.object({ input_tokens: z.number().int(), output_tokens: z.number().int() });

/** Per-distributor limit on suggestions (seed: 50 per minute), counted in Postgres. */
export function suggestRateLimit(deps: Deps) {
  return (c: Ctx, distributorId: string): RunOptions => ({
    rateLimit: {
      key: `ai-suggest:${distributorId}`, limit: deps.config.AI_SUGGEST_RATE_LIMIT_PER_MINUTE, windowSeconds: 60,
      memberOf: { distributorId, userId: c.get("user").id },
    },
    onRateLimit: (s) => c.set("rateLimitHeaders", rateLimitHeaders(s)),
  });
}

/** Per-user limit on the user-level routes (generate, key checks, media): one short transaction. */
export async function takeUserLimit(deps: Deps, c: Ctx, bucket: string): Promise<void> {
  const user = c.get("user");
  await deps.db.withUser(user, async () => {}, {
    rateLimit: { key: `ai-${bucket}:${user.id}`, limit: deps.config.AI_GENERATE_RATE_LIMIT_PER_MINUTE, windowSeconds: 60 },
    onRateLimit: (s) => c.set("rateLimitHeaders", rateLimitHeaders(s)),
  });
}

export const NO_STORE = { "Cache-Control": { description: "Always `no-store`", schema: { type: "string" as const } } };
