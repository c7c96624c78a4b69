// ai-respond: the AI gateway. Both frontends get AI text without holding a provider key and
// without personal data reaching a provider. Distributor routes act through the tenant gate
// (x-distributor-id); user-level routes (generate, key checks, media) act for the caller.
// See docs/ai.md.
import { requireUser } from "../../shared/auth/index.ts";
import { createFunctionApp, createRouter } from "../../shared/http/index.ts";
import { httpOptions, type Deps } from "../../shared/runtime/deps.ts";
import { Gateway, type AiAppOptions } from "./gateway.ts";
import { DISTRIBUTOR_HEADER, type RouteContext } from "./routes/context.ts";
import { suggestRoutes } from "./routes/suggest.ts";
import { generateRoutes } from "./routes/generate.ts";
import { feedbackRoutes } from "./routes/feedback.ts";
import { agentRoutes } from "./routes/agents.ts";
import { responseRoutes } from "./routes/responses.ts";
import { keyRoutes } from "./routes/keys.ts";
import { mediaRoutes } from "./routes/media.ts";

export type { AiAppOptions } from "./gateway.ts";

export function createApp(deps: Deps, opts: AiAppOptions = {}) {
  const { logger } = deps;
  const api = createRouter();
  const ctx: RouteContext = { deps, auth: requireUser(deps.verifyToken, logger), gw: new Gateway(deps, opts) };
  suggestRoutes(api, ctx);
  generateRoutes(api, ctx);
  feedbackRoutes(api, ctx);
  agentRoutes(api, ctx);
  responseRoutes(api, ctx);
  keyRoutes(api, ctx);
  mediaRoutes(api, ctx);
  return createFunctionApp(
    httpOptions("ai-respond", deps, { noStore: true, extraAllowHeaders: [DISTRIBUTOR_HEADER] }),
    api,
    { title: "ai-respond", description: "AI gateway: reply suggestions and generated text with provider fallback, PII masking, budgets and review" },
  );
}
