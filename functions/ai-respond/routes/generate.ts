// POST /generate: text for the social-marketing app. User-level (no distributor): the user's
// own provider keys first, the platform's otherwise; a per-user limit; answers sealed with the
// master keyring (AAD ai_responses:<id>).
import { z } from "@hono/zod-openapi";
import { ApiError, json, jsonBody, route, type Router } from "../../../shared/http/index.ts";
import { seal } from "../../../shared/crypto/index.ts";
import { text } from "../../../shared/schemas/index.ts";
import { PROVIDERS, type ProviderId } from "../../../shared/ai/registry.ts";
import { NO_STORE, providerSchema, takeUserLimit, Usage, type RouteContext } from "./context.ts";

export const PLATFORMS = ["generic", "twitter", "instagram", "facebook", "linkedin", "tiktok", "youtube"] as const;
export const TONES = ["neutral", "professional", "casual", "friendly", "humorous", "inspirational", "informative"] as const;
export const PROMPT_MAX = 8000;

const GenerateBody = z.object({
  prompt: text().trim().min(1).max(PROMPT_MAX),
  platform: z.enum(PLATFORMS).default("generic"),
  tone: z.enum(TONES).default("neutral"),
  provider: providerSchema.optional(),
  model: z.string().min(1).max(100).optional(),
  stream: z.boolean().default(false),
}).openapi("GenerateRequest");

export const GenerateAnswer = z.object({
  text: z.string(),
  ai_response_id: z.string().uuid(),
  provider: z.string(),
  model: z.string(),
  usage: Usage,
  cost_usd: z.number(),
  latency_ms: z.number().int(),
  invalid_keys: z.array(z.string()).openapi({ description: "Providers whose stored key (yours) was refused (401/403)" }),
}).openapi("Generated");

export function systemPromptFor(platform: string, tone: string): string {
  return `You write social media content${platform === "generic" ? "" : ` for ${platform}`}` +
    `${tone === "neutral" ? "" : ` in a ${tone} tone`}. Answer with the post text only. ` +
    "Bracketed tokens such as EMAIL_1 or PHONE_1 in square brackets stand for personal data: keep them exactly as they are, brackets included.";
}

/** The order for a request: the chosen provider first (with its model), then the configured order. */
export function orderFor(configured: ProviderId[], provider?: ProviderId, model?: string): { order: ProviderId[]; model?: string } {
  let first = provider;
  if (model) {
    const owner = PROVIDERS.find((p) => p.models.includes(model));
    if (!owner || (provider && owner.id !== provider)) {
      throw new ApiError("invalid_request", {}, "unknown model", [{ in: "body", path: "model", code: "invalid_value" }]);
    }
    first = owner.id;
  }
  if (!first) return { order: configured };
  return { order: [first, ...configured.filter((p) => p !== first)], model };
}

export function generateRoutes(api: Router, { deps, auth, gw }: RouteContext) {
  api.openapi(route({
    method: "post", path: "/generate", tags: ["ai"], operationId: "generateText",
    summary: "Generate text for the social-marketing app (your own keys first; per-user limit)",
    middleware: [auth] as const,
    request: { body: jsonBody(GenerateBody) },
    errors: ["rate_limited", "ai_unavailable"],
    responses: {
      200: {
        description: "The text (JSON), or Server-Sent Events when `stream` is true",
        content: { "application/json": { schema: GenerateAnswer }, "text/event-stream": { schema: z.string() } },
        headers: NO_STORE,
      },
    },
  }), async (c) => {
    const b = c.req.valid("json");
    const user = c.get("user");
    const { order, model } = orderFor(deps.config.AI_PROVIDER_ORDER, b.provider, b.model);
    await takeUserLimit(deps, c, "generate");
    const prepared = await gw.prepare({
      route: "generate", distributorId: null, userId: user.id, messageId: null, agentType: null,
      system: systemPromptFor(b.platform, b.tone), user: b.prompt, order, model, userKeys: true,
      seal: (id, t) => seal(deps.keyring, t, `ai_responses:${id}`),
    });
    const headers = { ...(c.get("rateLimitHeaders") ?? {}), "Cache-Control": "no-store" };
    if (b.stream) {
      const res = await gw.stream(c, prepared);
      for (const [k, v] of Object.entries(headers)) res.headers.set(k, v);
      return res as never;
    }
    const { confidence: _c, flagged: _f, ...a } = await gw.complete(prepared, c.req.raw.signal);
    return c.json(a, 200, headers);
  });
}
