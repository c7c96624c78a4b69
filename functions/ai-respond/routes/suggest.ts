// POST /suggest: a reply suggestion for one message of a distributor's conversation.
// Transaction 1 (user, behind the gate; statements pipelined, one round trip plus commit): the
// message, at most the 10 before it in its conversation, the conversation's channel and
// customer id, the agent's settings, and an audit row (one statement); decrypted after the commit (masked
// before anything leaves). Then one admission statement (the per-distributor limit, cooldowns,
// the budget reservation), the providers (no transaction), and one record statement. The
// per-distributor limit is NOT taken inside transaction 1: its row would stay locked until
// that commit and every concurrent suggest of the distributor would queue on it.
import { z } from "@hono/zod-openapi";
import { json, jsonBody, route, type Router } from "../../../shared/http/index.ts";
import { ApiError, countFailure, remembered, type AppEnv } from "../../../shared/http/index.ts";
import type { MiddlewareHandler } from "hono";
import { messageText, openMessageContent } from "../../../shared/messaging/index.ts";
import { sealFor, tenant } from "../../../shared/tenancy/index.ts";
import type { ProviderId } from "../../../shared/ai/registry.ts";
import { agentTypeSchema, DistributorHeaders, NO_STORE, suggestRateLimit, Usage, type RouteContext } from "./context.ts";

export const HISTORY_MAX = 10;

export const DEFAULT_SYSTEM_PROMPT =
  "You help a distributor's staff answer customers. Write one short, polite reply to the customer's latest message, " +
  "in the customer's language. Bracketed tokens such as EMAIL_1 or PHONE_1 in square brackets stand for personal data: keep them exactly as they are, brackets included.";

const SuggestBody = z.object({
  message_id: z.string().uuid(),
  agent_type: agentTypeSchema.default("customer_support"),
  stream: z.boolean().default(false).openapi({ description: "Answer as Server-Sent Events (delta…, done | error)" }),
}).openapi("SuggestRequest");

export const SuggestAnswer = z.object({
  suggestion: z.string(),
  ai_response_id: z.string().uuid(),
  provider: z.string(),
  model: z.string(),
  usage: Usage,
  cost_usd: z.number(),
  latency_ms: z.number().int(),
  confidence: z.number(),
  flagged: z.boolean(),
}).openapi("Suggestion");

interface Row {
  id: string;
  direction: string;
  content_encrypted: string | null;
  content_iv: string | null;
  key_version: number | null;
  customer_id: string;
  channel: string;
}

interface Agent {
  system_prompt: string;
  provider_order: ProviderId[] | null;
  model: string | null;
  temperature: string | null;
  max_tokens: number | null;
}

export function suggestRoutes(api: Router, { deps, auth, gw }: RouteContext) {
  api.openapi(route({
    method: "post", path: "/suggest", tags: ["ai"], operationId: "suggestReply",
    summary: "Suggest a reply to a message (ai.view_suggestions; 50 per minute per distributor)",
    description: "Context: the message and at most the 10 before it (masked), the customer's id and the channel. " +
      "With `stream: true` the answer is `text/event-stream`.",
    middleware: [auth, tenant(deps, "ai.view_suggestions"), countFailures(deps)] as const,
    request: { headers: DistributorHeaders, body: jsonBody(SuggestBody) },
    errors: ["forbidden", "not_found", "rate_limited", "ai_budget_exceeded", "ai_unavailable"],
    responses: {
      200: {
        description: "The suggestion (JSON), or Server-Sent Events when `stream` is true",
        content: { "application/json": { schema: SuggestAnswer }, "text/event-stream": { schema: z.string() } },
        headers: NO_STORE,
      },
    },
  }), async (c) => {
    const b = c.req.valid("json");
    const t = c.get("tenant");
    const ctx = await t.transaction(async (tx) => {
      // One statement: the audit row, the agent's settings (on every row) and the context.
      const rows = await tx<(Row & { agent: Agent | null; audited: number })[]>`
          with audit as materialized (
            select ${t.auditCall(tx, "ai.suggest", "messages", { recordId: b.message_id, detailsSql: tx`${tx.json({ agent_type: b.agent_type })}` })} as done
          )
          select m.id, m.direction, m.content_encrypted, m.content_iv, m.key_version, c.customer_id, c.channel,
                 (select jsonb_build_object('system_prompt', a.system_prompt, 'provider_order', a.provider_order, 'model', a.model,
                           'temperature', a.temperature::text, 'max_tokens', a.max_tokens)
                  from public.ai_agents a where a.distributor_id = ${t.id} and a.agent_type = ${b.agent_type}) as agent,
                 (select count(*) from audit)::int as audited
          from public.messages t
          join public.conversations c on c.id = t.conversation_id and c.distributor_id = t.distributor_id
          cross join lateral (
            (select h.id, h.direction, h.content_encrypted, h.content_iv, h.key_version, h.created_at from public.messages h
             where h.conversation_id = t.conversation_id and h.deleted_at is null and h.id <> t.id
               and (h.created_at, h.id) < (t.created_at, t.id)
             order by h.created_at desc, h.id desc limit ${HISTORY_MAX})
            union all
            select t.id, t.direction, t.content_encrypted, t.content_iv, t.key_version, t.created_at
          ) m
          where t.id = ${b.message_id} and t.distributor_id = ${t.id} and t.deleted_at is null
          order by m.created_at, m.id`;
      const keys = await t.keys(tx);
      if (!rows.length) throw new ApiError("not_found", {}, "message not visible");
      return { rows, agent: rows[0].agent ?? undefined, keys };
    });
    const texts = await Promise.all(ctx.rows.map(async (r) => {
      try {
        return messageText(await openMessageContent(ctx.keys, r.id, r as never));
      } catch {
        return "";
      }
    }));
    const last = ctx.rows.length - 1;
    const history = ctx.rows.slice(0, last).map((r, i) => `${r.direction === "inbound" ? "customer" : "agent"}: ${texts[i]}`);
    const user = [
      `Channel: ${ctx.rows[last].channel}`,
      `Customer: ${ctx.rows[last].customer_id}`,
      `Conversation so far (oldest first):`,
      ...(history.length ? history : ["(none)"]),
      ``,
      `Message to answer (${ctx.rows[last].direction === "inbound" ? "from the customer" : "sent by staff"}):`,
      texts[last],
    ].join("\n");
    const a = ctx.agent;
    const prepared = await gw.prepare({
      route: "suggest", distributorId: t.id, userId: t.user.id, messageId: b.message_id, agentType: b.agent_type,
      system: a?.system_prompt ?? DEFAULT_SYSTEM_PROMPT, user,
      order: a?.provider_order?.length ? a.provider_order : deps.config.AI_PROVIDER_ORDER,
      model: a?.model ?? undefined, temperature: a?.temperature != null ? Number(a.temperature) : undefined,
      maxTokens: a?.max_tokens ?? undefined, userKeys: false,
      seal: (id, text) => sealFor(ctx.keys, "ai_responses", id, text),
      limit: remembered(c, suggestRateLimit(deps)(c, t.id)),
    });
    const headers = { ...(c.get("rateLimitHeaders") ?? {}), "Cache-Control": "no-store" };
    if (b.stream) {
      const res = await gw.stream(c, prepared);
      for (const [k, v] of Object.entries(headers)) res.headers.set(k, v);
      return res as never;
    }
    const { text, invalid_keys: _i, ...rest } = await gw.complete(prepared, c.req.raw.signal);
    return c.json({ suggestion: text, ...rest }, 200, headers);
  });
}

/**
 * The per-distributor limit counts failed requests too (validation, an unknown message): after
 * the route failed without taking its hit in the admission statement, take it now — once the
 * gate has passed (a stranger or a role without the permission counts nothing).
 */
function countFailures(deps: RouteContext["deps"]): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    if (!c.error) return;
    const t = c.get("tenant");
    await t.verified();
    await countFailure(deps.db, c, remembered(c, suggestRateLimit(deps)(c, t.id)));
  };
}
