// POST /keys/validate: one cheap call (list models) with the caller's stored key. A 401/403
// from the provider is {valid: false}, never a 5xx; no stored key → {valid: false, reason: "not_configured"}.
import { z } from "@hono/zod-openapi";
import { ApiError, json, jsonBody, route, type Router } from "../../../shared/http/index.ts";
import { classify, toFailure } from "../../../shared/ai/classify.ts";
import { getUserSecret } from "../../../shared/secrets/index.ts";
import { NO_STORE, providerSchema, takeUserLimit, type RouteContext } from "./context.ts";

const Validated = z.object({
  valid: z.boolean(),
  provider: z.string(),
  reason: z.enum(["ok", "rejected", "not_configured"]),
}).openapi("KeyValidation");

export function keyRoutes(api: Router, { deps, auth, gw }: RouteContext) {
  api.openapi(route({
    method: "post", path: "/keys/validate", tags: ["keys"], operationId: "validateKey",
    summary: "Check your stored key for a provider with one cheap call",
    middleware: [auth] as const,
    request: { body: jsonBody(z.object({ provider: providerSchema })) },
    errors: ["rate_limited", "ai_unavailable"],
    responses: { 200: json(Validated, "The verdict", NO_STORE) },
  }), async (c) => {
    const { provider } = c.req.valid("json");
    const user = c.get("user");
    await takeUserLimit(deps, c, "keys");
    const key = await getUserSecret(deps, user.id, gw.providers[provider].userSecret);
    if (!key) return c.json({ valid: false, provider, reason: "not_configured" as const }, 200);
    const client = gw.client(provider, key, "user");
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), deps.config.AI_ATTEMPT_TIMEOUT_MS);
    try {
      await client.validate(ctl.signal);
      return c.json({ valid: true, provider, reason: "ok" as const }, 200);
    } catch (err) {
      const cls = classify(toFailure(err, { timedOut: ctl.signal.aborted }));
      if (cls.errorClass === "auth") return c.json({ valid: false, provider, reason: "rejected" as const }, 200);
      throw new ApiError("ai_unavailable", {}, `key check failed: ${cls.errorClass}`);
    } finally {
      clearTimeout(timer);
    }
  });
}
