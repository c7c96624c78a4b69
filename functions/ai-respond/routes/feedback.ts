// POST /feedback: a rating (and optionally approval and an edited text, sealed) on one of the
// distributor's AI answers. Approving needs ai.approve_responses.
import { z } from "@hono/zod-openapi";
import { ApiError, json, jsonBody, route, type Router } from "../../../shared/http/index.ts";
import { text } from "../../../shared/schemas/index.ts";
import { can, sealFor, tenant } from "../../../shared/tenancy/index.ts";
import { DistributorHeaders, NO_STORE, type RouteContext } from "./context.ts";

const FeedbackBody = z.object({
  ai_response_id: z.string().uuid(),
  rating: z.number().int().min(1).max(5),
  approved: z.boolean().optional().openapi({ description: "Needs ai.approve_responses (OWNER, ADMIN)" }),
  edited_text: text().min(1).max(10_000).optional().openapi({ description: "Stored sealed" }),
}).openapi("FeedbackRequest");

export function feedbackRoutes(api: Router, { deps, auth }: RouteContext) {
  api.openapi(route({
    method: "post", path: "/feedback", tags: ["ai"], operationId: "giveFeedback",
    summary: "Rate an AI answer; approve it (ai.approve_responses) or store an edited text (sealed)",
    middleware: [auth, tenant(deps, "ai.view_suggestions")] as const,
    request: { headers: DistributorHeaders, body: jsonBody(FeedbackBody) },
    errors: ["forbidden", "not_found"],
    responses: { 200: json(z.object({ success: z.literal(true) }), "Recorded", NO_STORE) },
  }), async (c) => {
    const b = c.req.valid("json");
    const t = c.get("tenant");
    await t.transaction(async (tx) => {
      const role = await t.verified();
      if (b.approved !== undefined && !can(role, "ai.approve_responses")) throw new ApiError("forbidden", {}, "approving needs ai.approve_responses");
      const keys = await t.keys(tx);
      const edited = b.edited_text ? await sealFor(keys, "ai_responses.edited", b.ai_response_id, b.edited_text) : null;
      const [row] = await tx`
        with u as (
          update public.ai_responses set rating = ${b.rating}, feedback_by = ${t.user.id}, feedback_at = now(),
            approved = coalesce(${b.approved ?? null}::boolean, approved),
            approved_by = case when ${b.approved ?? null}::boolean is null then approved_by else ${t.user.id}::uuid end,
            edited_encrypted = coalesce(${edited?.encryptedValue ?? null}, edited_encrypted),
            edited_iv = coalesce(${edited?.iv ?? null}, edited_iv),
            edited_key_version = coalesce(${edited?.keyVersion ?? null}::int, edited_key_version)
          where id = ${b.ai_response_id} and distributor_id = ${t.id} and status = 'ok'
          returning id
        ), audit as (
          select ${t.auditCall(tx, "ai.feedback", "ai_responses", {
            recordIdSql: tx`u.id`,
            detailsSql: tx`jsonb_build_object('rating', ${b.rating}::int, 'approved', ${b.approved ?? null}::boolean, 'edited', ${!!edited}::boolean)`,
          })} from u
        )
        select (select count(*) from u)::int as n, (select count(*) from audit)::int as a`;
      if (!row.n) throw new ApiError("not_found", {}, "ai response not visible");
    });
    return c.json({ success: true as const }, 200);
  });
}
