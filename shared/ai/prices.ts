// Prices: the one table every cost figure comes from (USD per 1M tokens; media per unit).
// Update here when a provider changes its list price.
import type { ProviderId } from "./registry.ts";

export interface TokenPrice {
  inputPerM: number;
  outputPerM: number;
}

export const TOKEN_PRICES: Record<ProviderId, Record<string, TokenPrice>> = {
  openai: {
    "gpt-5": { inputPerM: 1.25, outputPerM: 10 },
    "gpt-5-mini": { inputPerM: 0.25, outputPerM: 2 },
    "gpt-5-nano": { inputPerM: 0.05, outputPerM: 0.4 },
    "gpt-4.1": { inputPerM: 2, outputPerM: 8 },
    "gpt-4.1-mini": { inputPerM: 0.4, outputPerM: 1.6 },
    "gpt-4o": { inputPerM: 2.5, outputPerM: 10 },
    "gpt-4o-mini": { inputPerM: 0.15, outputPerM: 0.6 },
  },
  anthropic: {
    "claude-sonnet-4-5": { inputPerM: 3, outputPerM: 15 },
    "claude-haiku-4-5": { inputPerM: 1, outputPerM: 5 },
    "claude-opus-4-1": { inputPerM: 15, outputPerM: 75 },
  },
  mistral: {
    "mistral-large-latest": { inputPerM: 2, outputPerM: 6 },
    "mistral-medium-latest": { inputPerM: 0.4, outputPerM: 2 },
    "mistral-small-latest": { inputPerM: 0.1, outputPerM: 0.3 },
  },
  gemini: {
    "gemini-2.5-pro": { inputPerM: 1.25, outputPerM: 10 },
    "gemini-2.5-flash": { inputPerM: 0.3, outputPerM: 2.5 },
    "gemini-2.5-flash-lite": { inputPerM: 0.1, outputPerM: 0.4 },
  },
};

/** Media (seed "Google Gemini (Video & Image Generation)"). */
export const MEDIA_PRICES = {
  "veo-3": { kind: "video", perSecond: 0.75 },
  "veo-3-fast": { kind: "video", perSecond: 0.4 },
  "nano-banana": { kind: "image", perImage: 0.039 },
} as const;
export type MediaModel = keyof typeof MEDIA_PRICES;

/** Gemini model names of the media models. */
export const MEDIA_MODEL_IDS: Record<MediaModel, string> = {
  "veo-3": "veo-3.0-generate-001",
  "veo-3-fast": "veo-3.0-fast-generate-001",
  "nano-banana": "gemini-2.5-flash-image",
};

/** The price of `model`, or the provider's most expensive one when the model is unknown (never under-count). */
export function tokenPrice(provider: ProviderId, model: string): TokenPrice {
  const table = TOKEN_PRICES[provider];
  if (table[model]) return table[model];
  const prefix = Object.keys(table).filter((m) => model.startsWith(m)).sort((a, b) => b.length - a.length)[0];
  if (prefix) return table[prefix];
  return Object.values(table).reduce((a, b) => (a.outputPerM >= b.outputPerM ? a : b));
}

/** Cost in USD, rounded to 8 decimals (the column's scale). */
export function tokenCost(provider: ProviderId, model: string, inputTokens: number, outputTokens: number): number {
  const p = tokenPrice(provider, model);
  return round8((inputTokens * p.inputPerM + outputTokens * p.outputPerM) / 1_000_000);
}

export function mediaCost(model: MediaModel, seconds = 0): number {
  const p = MEDIA_PRICES[model];
  return round8("perSecond" in p ? p.perSecond * seconds : p.perImage);
}

export const round8 = (n: number) => Math.round(n * 1e8) / 1e8;

/**
 * The most a request may cost (reserved from the budget before any provider is called): the
 * prompt's tokens estimated generously (1 token per 2 characters) plus `maxTokens` of output,
 * at the most expensive candidate's price.
 */
export function worstCaseCost(candidates: { provider: ProviderId; model: string }[], promptChars: number, maxTokens: number): number {
  const inTokens = Math.ceil(promptChars / 2) + 50;
  return Math.max(0, ...candidates.map((c) => tokenCost(c.provider, c.model, inTokens, maxTokens)));
}
