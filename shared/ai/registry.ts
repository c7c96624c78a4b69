// Providers as data: one typed table, validated by tests/ai/registry.test.ts. Each row names its
// wire format (one module per format in ./wire/), its base URL (and the variable overriding it),
// where its key comes from, its defaults and limits, and the models it accepts. An OpenAI-compatible provider is a
// new row with wire "openai", not new code. Prices live in ./prices.ts.
import { z } from "zod";
import type { Config } from "../config/index.ts";
import type { ServiceName } from "../secrets/index.ts";

export const PROVIDER_IDS = ["openai", "anthropic", "mistral", "gemini"] as const;
export type ProviderId = (typeof PROVIDER_IDS)[number];
export const WIRES = ["openai", "anthropic", "mistral", "gemini"] as const;
export type Wire = (typeof WIRES)[number];

export const ProviderSpecSchema = z.object({
  id: z.enum(PROVIDER_IDS),
  wire: z.enum(WIRES),
  defaultModel: z.string().min(1),
  /** How the key travels: the SDK of the wire format sets the header. */
  auth: z.enum(["bearer", "x-api-key", "key"]),
  maxTokens: z.number().int().positive(),
  temperature: z.number().min(0).max(2),
  requestsPerMinute: z.number().int().positive(),
  vision: z.boolean(),
  baseUrl: z.string().url(),
  baseUrlVariable: z.enum(["OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "MISTRAL_BASE_URL", "GEMINI_BASE_URL"]),
  keyVariable: z.enum(["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "MISTRAL_API_KEY", "GEMINI_API_KEY"]),
  /** The user's own key (manage-user-secrets), preferred on user-level routes. */
  userSecret: z.enum(["openai_api_key_encrypted", "anthropic_api_key_encrypted", "mistral_api_key_encrypted", "gemini_api_key_encrypted"]),
  models: z.array(z.string().min(1)).min(1),
}).refine((p) => p.models.includes(p.defaultModel), { message: "defaultModel must be one of models" });
export type ProviderSpec = z.infer<typeof ProviderSpecSchema> & { userSecret: ServiceName };

const TABLE = [
  {
    id: "openai", wire: "openai", defaultModel: "gpt-5-mini", auth: "bearer", maxTokens: 4000, temperature: 0.7,
    requestsPerMinute: 60, vision: true, baseUrl: "https://api.openai.com/v1", baseUrlVariable: "OPENAI_BASE_URL",
    keyVariable: "OPENAI_API_KEY", userSecret: "openai_api_key_encrypted",
    models: ["gpt-5-mini", "gpt-5", "gpt-5-nano", "gpt-4.1", "gpt-4.1-mini", "gpt-4o", "gpt-4o-mini"],
  },
  {
    id: "anthropic", wire: "anthropic", defaultModel: "claude-sonnet-4-5", auth: "x-api-key", maxTokens: 4000, temperature: 0.7,
    requestsPerMinute: 50, vision: true, baseUrl: "https://api.anthropic.com", baseUrlVariable: "ANTHROPIC_BASE_URL",
    keyVariable: "ANTHROPIC_API_KEY", userSecret: "anthropic_api_key_encrypted",
    models: ["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"],
  },
  {
    id: "mistral", wire: "mistral", defaultModel: "mistral-large-latest", auth: "bearer", maxTokens: 4000, temperature: 0.7,
    requestsPerMinute: 100, vision: false, baseUrl: "https://api.mistral.ai", baseUrlVariable: "MISTRAL_BASE_URL",
    keyVariable: "MISTRAL_API_KEY", userSecret: "mistral_api_key_encrypted",
    models: ["mistral-large-latest", "mistral-medium-latest", "mistral-small-latest"],
  },
  {
    id: "gemini", wire: "gemini", defaultModel: "gemini-2.5-flash", auth: "key", maxTokens: 4000, temperature: 0.7,
    requestsPerMinute: 60, vision: true, baseUrl: "https://generativelanguage.googleapis.com", baseUrlVariable: "GEMINI_BASE_URL",
    keyVariable: "GEMINI_API_KEY", userSecret: "gemini_api_key_encrypted",
    models: ["gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite"],
  },
] satisfies ProviderSpec[];

/**
 * The registry. Its rows are code: TypeScript checks their shape, and ProviderSpecSchema's finer
 * rules (the default model among the models, URLs, limits) are checked by
 * tests/ai/registry.test.ts, so a bad row fails CI rather than a start (a zod parse at every
 * start cost the cold start a few milliseconds).
 */
export const PROVIDERS: readonly ProviderSpec[] = TABLE;

export function providerSpec(id: ProviderId): ProviderSpec {
  return PROVIDERS.find((p) => p.id === id)!;
}

/** A provider as configured: its base URL and platform key from the environment. */
export interface ConfiguredProvider extends ProviderSpec {
  platformKey: string | undefined;
}

export type AiConfig = Pick<Config,
  | "OPENAI_API_KEY" | "ANTHROPIC_API_KEY" | "MISTRAL_API_KEY" | "GEMINI_API_KEY"
  | "OPENAI_BASE_URL" | "ANTHROPIC_BASE_URL" | "MISTRAL_BASE_URL" | "GEMINI_BASE_URL">;

export function configuredProviders(config: AiConfig): Record<ProviderId, ConfiguredProvider> {
  return Object.fromEntries(PROVIDERS.map((p) => [p.id, {
    ...p,
    baseUrl: config[p.baseUrlVariable] ?? p.baseUrl,
    platformKey: config[p.keyVariable],
  }])) as Record<ProviderId, ConfiguredProvider>;
}

/** GPT-5 models take max_completion_tokens (and only the default temperature). */
export const isGpt5 = (model: string) => /^gpt-5/.test(model);
