// Variables of ai-respond: provider keys, base URLs, fallback order, budgets. Merged into the one schema in ./index.ts.
import { z } from "zod";
import { csv, int, lazy, type VarShape } from "./types.ts";

const providerOrder = () => csv().pipe(z.array(z.enum(["openai", "anthropic", "mistral", "gemini"])).min(1));
const usd = () => z.coerce.number().min(0).max(1_000_000);

export const aiConfig = {
  // Platform keys (distributors always use these; a social-marketing user's own key wins).
  OPENAI_API_KEY: lazy(() => z.string().min(1)).optional(),
  ANTHROPIC_API_KEY: lazy(() => z.string().min(1)).optional(),
  MISTRAL_API_KEY: lazy(() => z.string().min(1)).optional(),
  GEMINI_API_KEY: lazy(() => z.string().min(1)).optional(),
  // Base URLs (tests and local development point them at fakes).
  OPENAI_BASE_URL: lazy(() => z.string().url()).default("https://api.openai.com/v1"),
  ANTHROPIC_BASE_URL: lazy(() => z.string().url()).default("https://api.anthropic.com"),
  MISTRAL_BASE_URL: lazy(() => z.string().url()).default("https://api.mistral.ai"),
  GEMINI_BASE_URL: lazy(() => z.string().url()).default("https://generativelanguage.googleapis.com"),
  AI_PROVIDER_ORDER: lazy(providerOrder).default(["openai", "anthropic", "mistral", "gemini"]),
  AI_ATTEMPT_TIMEOUT_MS: lazy(() => int(100, 600_000)).default(30_000),
  AI_DEADLINE_MS: lazy(() => int(100, 600_000)).default(60_000),
  AI_MAX_RETRIES: lazy(() => int(0, 5)).default(2),
  AI_BACKOFF_BASE_MS: lazy(() => int(1, 60_000)).default(250),
  AI_RETRY_AFTER_CAP_MS: lazy(() => int(0, 120_000)).default(5_000),
  AI_FAILURE_THRESHOLD: lazy(() => int(1, 1000)).default(5),
  AI_COOLDOWN_SECONDS: lazy(() => int(1, 86_400)).default(60),
  AI_MONTHLY_BUDGET_USD: lazy(usd).default(100),
  AI_SUGGEST_RATE_LIMIT_PER_MINUTE: lazy(() => int(1, 1_000_000)).default(50),
  AI_GENERATE_RATE_LIMIT_PER_MINUTE: lazy(() => int(1, 1_000_000)).default(20),
} satisfies VarShape;
