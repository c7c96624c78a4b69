// GET /responses: the review queue (ai.approve_responses: OWNER, ADMIN), newest first,
// decrypted; one data_access_audit row per answer read, in the same statement.
import { z } from "@hono/zod-openapi";
import { json, route, type Router } from "../../../shared/http/index.ts";
import { openFor, tenant } from "../../../shared/tenancy/index.ts";
import { DistributorHeaders, NO_STORE, type RouteContext } from "./context.ts";
import { cursorParam, encodeCursor } from "../../../shared/http/cursor.ts";
import { isoTimestamps } from "../../../shared/schemas/index.ts";

const Query = z.object({
  flagged: z.enum(["true", "false"]).optional().transform((v) => v === undefined ? undefined : v === "true")
    .openapi({ param: { name: "flagged", in: "query" }, type: "string", enum: ["true", "false"] }),
  limit: z.coerce.number().int().min(1).max(100).default(20).openapi({ param: { name: "limit", in: "query" } }),
  cursor: cursorParam(),
});

const Item = z.object({
  id: z.string().uuid(),
  message_id: z.string().uuid().nullable(),
  agent_type: z.string().nullable(),
  provider: z.string().nullable(),
  model: z.string().nullable(),
  text: z.string().nullable(),
  edited_text: z.string().nullable(),
  status: z.string(),
  error_class: z.string().nullable(),
  flagged: z.boolean(),
  contains_pii: z.boolean(),
  confidence: z.number().nullable(),
  cost_usd: z.number(),
  rating: z.number().int().nullable(),
  approved: z.boolean().nullable(),
  created_at: z.string(),
}).openapi("AiResponse");

interface Row {
  id: string; message_id: string | null; agent_type: string | null; provider: string | null; model: string | null;
  response_encrypted: string | null; response_iv: string | null; key_version: number | null;
  edited_encrypted: string | null; edited_iv: string | null; edited_key_version: number | null;
  status: string; error_class: string | null; flagged: boolean; contains_pii: boolean; confidence: string | null;
  cost_usd: string; rating: number | null; approved: boolean | null; created_at: string;
}

export function responseRoutes(api: Router, { deps, auth }: RouteContext) {
  api.openapi(route({
    method: "get", path: "/responses", tags: ["ai"], operationId: "listResponses",
    summary: "Review queue of AI answers (ai.approve_responses; each answer read is audited)",
    middleware: [auth, tenant(deps, "ai.approve_responses")] as const,
    request: { headers: DistributorHeaders, query: Query },
    errors: ["forbidden", "not_found"],
    responses: { 200: json(z.object({ items: z.array(Item), next_cursor: z.string().nullable() }), "A page, newest first", NO_STORE) },
  }), async (c) => {
    const q = c.req.valid("query");
    const t = c.get("tenant");
    const out = await t.transaction(async (tx) => {
      const [r] = await tx<{ rows: Row[] }[]>`
        with pg as (
          select id, message_id, agent_type, provider, model, response_encrypted, response_iv, key_version,
                 edited_encrypted, edited_iv, edited_key_version, status, error_class, flagged, contains_pii,
                 confidence::text as confidence, cost_usd::text as cost_usd, rating, approved, to_json(created_at)#>>'{}' as created_at, created_at as ts
          from public.ai_responses
          where distributor_id = ${t.id}
            ${q.flagged === undefined ? tx`` : tx`and flagged = ${q.flagged}`}
            ${q.cursor ? tx`and (created_at, id) < (${q.cursor.ts}::text::timestamptz, ${q.cursor.id}::uuid)` : tx``}
          order by created_at desc, id desc
          limit ${q.limit + 1}
        ), shown as (
          select * from pg order by ts desc, id desc limit ${q.limit}
        ), audit as (
          select ${t.auditCall(tx, "ai.response_read", "ai_responses", { recordIdSql: tx`shown.id` })} from shown
        )
        select (select count(*) from audit)::int as audited,
               coalesce((select json_agg(pg order by pg.ts desc, pg.id desc) from pg), '[]'::json) as rows`;
      const keys = await t.keys(tx);
      const more = r.rows.length > q.limit;
      const rows = r.rows.slice(0, q.limit);
      const open = async (id: string, table: string, ct: string | null, iv: string | null, v: number | null) => {
        if (!ct || !iv || v === null) return null;
        try {
          return await openFor(keys, table, id, { encryptedValue: ct, iv, keyVersion: v });
        } catch {
          return null;
        }
      };
      const items = await Promise.all(rows.map(async (x) => ({
        id: x.id, message_id: x.message_id, agent_type: x.agent_type, provider: x.provider, model: x.model,
        text: await open(x.id, "ai_responses", x.response_encrypted, x.response_iv, x.key_version),
        edited_text: await open(x.id, "ai_responses.edited", x.edited_encrypted, x.edited_iv, x.edited_key_version),
        status: x.status, error_class: x.error_class, flagged: x.flagged, contains_pii: x.contains_pii,
        confidence: x.confidence === null ? null : Number(x.confidence), cost_usd: Number(x.cost_usd), rating: x.rating,
        approved: x.approved, created_at: new Date(x.created_at).toISOString(),
      })));
      const last = rows[rows.length - 1];
      return { items, next_cursor: more && last ? encodeCursor(last.created_at, last.id) : null };
    });
    return c.json(isoTimestamps(out), 200);
  });
}
