// Variables of ai-respond: provider keys, base URLs, fallback order, budgets. Merged into the one schema in ./index.ts.
import { z } from "zod";
import { int, lazy, num, SKIP, splitCsv, text, url, type VarShape } from "./types.ts";

const PROVIDERS = ["openai", "anthropic", "mistral", "gemini"] as const;
const providerOrder = () =>
  lazy(() => z.string().transform(splitCsv).pipe(z.array(z.enum(PROVIDERS)).min(1)), (v) => {
    const list = splitCsv(v);
    return list.length >= 1 && list.every((p) => (PROVIDERS as readonly string[]).includes(p)) ? (list as (typeof PROVIDERS)[number][]) : SKIP;
  });

export const aiConfig = {
  // Platform keys (distributors always use these; a social-marketing user's own key wins).
  OPENAI_API_KEY: text({ min: 1 }).optional(),
  ANTHROPIC_API_KEY: text({ min: 1 }).optional(),
  MISTRAL_API_KEY: text({ min: 1 }).optional(),
  GEMINI_API_KEY: text({ min: 1 }).optional(),
  // Base URLs (tests and local development point them at fakes).
  OPENAI_BASE_URL: url().default("https://api.openai.com/v1"),
  ANTHROPIC_BASE_URL: url().default("https://api.anthropic.com"),
  MISTRAL_BASE_URL: url().default("https://api.mistral.ai"),
  GEMINI_BASE_URL: url().default("https://generativelanguage.googleapis.com"),
  AI_PROVIDER_ORDER: providerOrder().default(["openai", "anthropic", "mistral", "gemini"]),
  AI_ATTEMPT_TIMEOUT_MS: int(100, 600_000).default(30_000),
  AI_DEADLINE_MS: int(100, 600_000).default(60_000),
  AI_MAX_RETRIES: int(0, 5).default(2),
  AI_BACKOFF_BASE_MS: int(1, 60_000).default(250),
  AI_RETRY_AFTER_CAP_MS: int(0, 120_000).default(5_000),
  AI_FAILURE_THRESHOLD: int(1, 1000).default(5),
  AI_COOLDOWN_SECONDS: int(1, 86_400).default(60),
  AI_MONTHLY_BUDGET_USD: num(0, 1_000_000).default(100),
  AI_SUGGEST_RATE_LIMIT_PER_MINUTE: int(1, 1_000_000).default(50),
  AI_GENERATE_RATE_LIMIT_PER_MINUTE: int(1, 1_000_000).default(20),
} satisfies VarShape;
