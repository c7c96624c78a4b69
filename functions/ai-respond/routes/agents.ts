// GET /agents, PUT /agents/{agent_type}: per-distributor agent settings; GET/PUT /budget: the
// monthly budget override and this month's spend. All ai.configure_agents (OWNER only).
import { z } from "@hono/zod-openapi";
import { ApiError, json, jsonBody, route, type Router } from "../../../shared/http/index.ts";
import { text } from "../../../shared/schemas/index.ts";
import { tenant } from "../../../shared/tenancy/index.ts";
import type { Tx } from "../../../shared/db/index.ts";
import { providerSpec } from "../../../shared/ai/registry.ts";
import { agentTypeSchema, DistributorHeaders, NO_STORE, providerSchema, type RouteContext } from "./context.ts";

const AgentBody = z.object({
  system_prompt: text().trim().min(1).max(8000),
  provider_order: z.array(providerSchema).min(1).max(4).refine((a) => new Set(a).size === a.length, { message: "duplicates" }).optional(),
  model: z.string().min(1).max(100).optional().openapi({ description: "For the first provider of provider_order (or of the configured order)" }),
  temperature: z.number().min(0).max(2).optional(),
  max_tokens: z.number().int().min(1).max(4000).optional(),
}).openapi("AgentSettings");

const Agent = AgentBody.extend({
  agent_type: z.string(),
  provider_order: z.array(z.string()).nullable(),
  model: z.string().nullable(),
  temperature: z.number().nullable(),
  max_tokens: z.number().int().nullable(),
  updated_at: z.string(),
}).openapi("Agent");

const Budget = z.object({
  month: z.string().openapi({ example: "2026-12-01" }),
  monthly_budget_usd: z.number(),
  overridden: z.boolean(),
  spent_usd: z.number(),
  reserved_usd: z.number(),
}).openapi("AiBudget");

interface AgentRow { agent_type: string; system_prompt: string; provider_order: string[] | null; model: string | null; temperature: string | null; max_tokens: number | null; updated_at: Date }

const toAgent = (r: AgentRow) => ({
  ...r, temperature: r.temperature === null ? null : Number(r.temperature), updated_at: new Date(r.updated_at).toISOString(),
});

export function agentRoutes(api: Router, { deps, auth }: RouteContext) {
  api.openapi(route({
    method: "get", path: "/agents", tags: ["agents"], operationId: "listAgents",
    summary: "Agent settings of the distributor (ai.configure_agents)",
    middleware: [auth, tenant(deps, "ai.configure_agents")] as const,
    request: { headers: DistributorHeaders },
    errors: ["forbidden", "not_found"],
    responses: { 200: json(z.object({ items: z.array(Agent) }), "Agents", NO_STORE) },
  }), async (c) => {
    const t = c.get("tenant");
    const rows = await t.transaction(async (tx) => {
      const r = await tx<AgentRow[]>`select agent_type, system_prompt, provider_order, model, temperature::text, max_tokens, updated_at
                                     from public.ai_agents where distributor_id = ${t.id} order by agent_type`;
      await t.verified();
      return r;
    });
    return c.json({ items: rows.map(toAgent) }, 200);
  });

  api.openapi(route({
    method: "put", path: "/agents/{agent_type}", tags: ["agents"], operationId: "putAgent",
    summary: "Create or replace an agent's settings (ai.configure_agents; audited)",
    middleware: [auth, tenant(deps, "ai.configure_agents")] as const,
    request: { headers: DistributorHeaders, params: z.object({ agent_type: agentTypeSchema.openapi({ param: { name: "agent_type", in: "path" } }) }), body: jsonBody(AgentBody) },
    errors: ["forbidden", "not_found"],
    responses: { 200: json(Agent, "Saved", NO_STORE) },
  }), async (c) => {
    const { agent_type } = c.req.valid("param");
    const b = c.req.valid("json");
    const t = c.get("tenant");
    if (b.model) {
      const first = (b.provider_order ?? deps.config.AI_PROVIDER_ORDER)[0];
      if (!providerSpec(first).models.includes(b.model)) {
        throw new ApiError("invalid_request", {}, "model not offered by the first provider", [{ in: "body", path: "model", code: "invalid_value" }]);
      }
    }
    const row = await t.transaction(async (tx) => {
      await t.verified();
      const [r] = await tx<AgentRow[]>`
        insert into public.ai_agents (distributor_id, agent_type, system_prompt, provider_order, model, temperature, max_tokens, updated_by, updated_at)
        values (${t.id}, ${agent_type}, ${b.system_prompt}, ${b.provider_order ?? null}, ${b.model ?? null}, ${b.temperature ?? null},
                ${b.max_tokens ?? null}, ${t.user.id}, now())
        on conflict (distributor_id, agent_type) do update set system_prompt = excluded.system_prompt,
          provider_order = excluded.provider_order, model = excluded.model, temperature = excluded.temperature,
          max_tokens = excluded.max_tokens, updated_by = excluded.updated_by, updated_at = now()
        returning agent_type, system_prompt, provider_order, model, temperature::text, max_tokens, updated_at`;
      await t.audit(tx, "ai.agent_update", "ai_agents", null, { agent_type });
      return r;
    });
    return c.json(toAgent(row), 200);
  });

  const readBudget = async (tx: Tx, id: string) => {
    const [r] = await tx<{ month: string; budget: string | null; spent: string | null; reserved: string | null }[]>`
      select to_char(date_trunc('month', now() at time zone 'utc'), 'YYYY-MM-DD') as month,
             (select monthly_budget_usd::text from public.ai_budget_overrides where distributor_id = ${id}) as budget,
             b.spent_usd::text as spent, b.reserved_usd::text as reserved
      from (select 1) one
      left join public.ai_budgets b on b.distributor_id = ${id} and b.month = date_trunc('month', now() at time zone 'utc')::date`;
    return {
      month: r.month, monthly_budget_usd: r.budget === null ? deps.config.AI_MONTHLY_BUDGET_USD : Number(r.budget), overridden: r.budget !== null,
      spent_usd: Number(r.spent ?? 0), reserved_usd: Number(r.reserved ?? 0),
    };
  };

  api.openapi(route({
    method: "get", path: "/budget", tags: ["budget"], operationId: "getBudget",
    summary: "This month's AI budget and spend (ai.configure_agents)",
    middleware: [auth, tenant(deps, "ai.configure_agents")] as const,
    request: { headers: DistributorHeaders },
    errors: ["forbidden", "not_found"],
    responses: { 200: json(Budget, "Budget", NO_STORE) },
  }), async (c) => {
    const t = c.get("tenant");
    const b = await t.transaction(async (tx) => {
      const r = await readBudget(tx, t.id);
      await t.verified();
      return r;
    });
    return c.json(b, 200);
  });

  api.openapi(route({
    method: "put", path: "/budget", tags: ["budget"], operationId: "putBudget",
    summary: "Override the monthly AI budget in USD (ai.configure_agents; audited)",
    middleware: [auth, tenant(deps, "ai.configure_agents")] as const,
    request: { headers: DistributorHeaders, body: jsonBody(z.object({ monthly_budget_usd: z.number().min(0).max(1_000_000) })) },
    errors: ["forbidden", "not_found"],
    responses: { 200: json(Budget, "Budget", NO_STORE) },
  }), async (c) => {
    const t = c.get("tenant");
    const { monthly_budget_usd } = c.req.valid("json");
    const b = await t.transaction(async (tx) => {
      await t.verified();
      await tx`insert into public.ai_budget_overrides (distributor_id, monthly_budget_usd, updated_by, updated_at)
               values (${t.id}, ${monthly_budget_usd}, ${t.user.id}, now())
               on conflict (distributor_id) do update set monthly_budget_usd = excluded.monthly_budget_usd,
                 updated_by = excluded.updated_by, updated_at = now()`;
      await t.audit(tx, "ai.budget_update", "ai_budget_overrides", null, { monthly_budget_usd });
      return await readBudget(tx, t.id);
    });
    return c.json(b, 200);
  });
}
