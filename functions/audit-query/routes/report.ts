// GET /compliance-report: computed from real counts (private.compliance_facts); non_compliant
// with reasons whenever something is overdue. GET/PUT /retention-policy: the distributor's
// retention days (read: audit.read; change: the OWNER, within the documented bounds).
import { z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { json, jsonBody, route, type AppEnv, type Router } from "../../../shared/http/index.ts";
import { CLEANUP_MAX_AGE_HOURS, REQUEST_DEADLINE_DAYS, RETENTION_LIMITS } from "../../../shared/compliance/index.ts";
import type { Deps } from "../../../shared/runtime/deps.ts";
import { tenant } from "../../../shared/tenancy/index.ts";
import { DistributorHeaders } from "./audit.ts";

const RetentionRow = z.object({
  table_name: z.string(), retention_days: z.number().int(), cutoff: z.string(),
  expired_rows: z.number().int(), oldest_expired: z.string().nullable(),
});
const Report = z.object({
  type: z.enum(["gdpr", "ccpa"]),
  distributor_id: z.string(),
  generated_at: z.string(),
  compliance_status: z.enum(["compliant", "non_compliant"]),
  reasons: z.array(z.string()).openapi({ description: "Why non_compliant (empty when compliant)" }),
  messages_processed: z.number().int(),
  ai_responses_generated: z.number().int().nullable().openapi({ description: "null until the AI responses table exists" }),
  pii_detections: z.number().int(),
  privacy_requests: z.object({
    export_completed: z.number().int(), erase_completed: z.number().int(),
    pending: z.array(z.object({ id: z.string(), type: z.string(), created_at: z.string(), age_days: z.number().int() })),
  }),
  retention: z.array(RetentionRow),
  last_cleanup_at: z.string().nullable(),
}).openapi("ComplianceReport");

const Policy = z.object({
  messages_days: z.number().int(), ai_responses_days: z.number().int(),
  audit_logs_days: z.number().int(), pii_detection_results_days: z.number().int(),
}).openapi("RetentionPolicy");
const bounded = (k: keyof typeof RETENTION_LIMITS) =>
  z.number().int().min(RETENTION_LIMITS[k].min).max(RETENTION_LIMITS[k].max).optional()
    .openapi({ description: `${RETENTION_LIMITS[k].min}..${RETENTION_LIMITS[k].max} days (default ${RETENTION_LIMITS[k].default})` });
const PolicyPatch = z.object({
  messages_days: bounded("messages_days"), ai_responses_days: bounded("ai_responses_days"),
  audit_logs_days: bounded("audit_logs_days"), pii_detection_results_days: bounded("pii_detection_results_days"),
}).strict().refine((o) => Object.keys(o).length > 0, { message: "nothing to change" }).openapi("RetentionPolicyPatch");

const num = (v: unknown) => Number(v ?? 0);

interface Facts {
  messages_processed: string | number;
  ai_responses_generated: string | number | null;
  pii_detections: string | number;
  requests: Record<string, number>;
  pending: { id: string; type: string; created_at: string; age_days: number }[];
  retention: { table_name: string; retention_days: number; cutoff: string; expired_rows: number; oldest_expired: string | null }[];
  last_cleanup_at: string | null;
}

/** The verdict: every overdue thing is a reason. */
export function complianceVerdict(f: Facts, now: Date): string[] {
  const reasons: string[] = [];
  for (const r of f.retention) {
    if (num(r.expired_rows) > 0) reasons.push(`${r.table_name}: ${r.expired_rows} rows past the ${r.retention_days}-day retention (oldest ${r.oldest_expired})`);
  }
  for (const p of f.pending) {
    if (p.age_days > REQUEST_DEADLINE_DAYS) reasons.push(`privacy request ${p.id} (${p.type}) pending for ${p.age_days} days (limit ${REQUEST_DEADLINE_DAYS})`);
  }
  const last = f.last_cleanup_at ? new Date(f.last_cleanup_at).getTime() : null;
  if (last === null || now.getTime() - last > CLEANUP_MAX_AGE_HOURS * 3_600_000) {
    reasons.push(last === null ? "retention cleanup has never run" : `retention cleanup last ran ${f.last_cleanup_at} (more than ${CLEANUP_MAX_AGE_HOURS} hours ago)`);
  }
  return reasons;
}

export function reportRoutes(api: Router, deps: Deps, auth: MiddlewareHandler<AppEnv>): void {
  api.openapi(route({
    method: "get", path: "/compliance-report", tags: ["compliance"], operationId: "complianceReport",
    summary: "GDPR or CCPA compliance report computed from real counts (audit.read: OWNER, ADMIN; audited)",
    middleware: [auth, tenant(deps, "audit.read")] as const,
    request: {
      headers: DistributorHeaders,
      query: z.object({ type: z.enum(["gdpr", "ccpa"]).default("gdpr").openapi({ param: { name: "type", in: "query" } }) }),
    },
    errors: ["forbidden", "not_found"],
    responses: { 200: json(Report, "The report") },
  }), async (c) => {
    const { type } = c.req.valid("query");
    const t = c.get("tenant");
    const facts = await t.transaction(async (tx) => {
      await t.verified();
      const [r] = await tx<{ facts: Facts }[]>`
        select private.compliance_facts(${t.id}) as facts, ${t.auditCall(tx, "compliance.report", null, { detailsSql: tx`jsonb_build_object('type', ${type}::text)` })}`;
      return r.facts;
    });
    const now = deps.now();
    const reasons = complianceVerdict(facts, now);
    return c.json({
      type, distributor_id: t.id, generated_at: now.toISOString(),
      compliance_status: reasons.length ? "non_compliant" as const : "compliant" as const, reasons,
      messages_processed: num(facts.messages_processed),
      ai_responses_generated: facts.ai_responses_generated == null ? null : num(facts.ai_responses_generated),
      pii_detections: num(facts.pii_detections),
      privacy_requests: {
        export_completed: num(facts.requests.export_completed), erase_completed: num(facts.requests.erase_completed), pending: facts.pending,
      },
      retention: facts.retention.map((r) => ({ ...r, expired_rows: num(r.expired_rows) })),
      last_cleanup_at: facts.last_cleanup_at,
    }, 200);
  });

  api.openapi(route({
    method: "get", path: "/retention-policy", tags: ["compliance"], operationId: "getRetentionPolicy",
    summary: "The distributor's retention days (audit.read)",
    middleware: [auth, tenant(deps, "audit.read")] as const,
    request: { headers: DistributorHeaders },
    errors: ["forbidden", "not_found"],
    responses: { 200: json(Policy, "The policy (defaults where never changed)") },
  }), async (c) => {
    const t = c.get("tenant");
    const row = await t.transaction(async (tx) => {
      const rows = await tx<z.infer<typeof Policy>[]>`
        select messages_days, ai_responses_days, audit_logs_days, pii_detection_results_days
        from public.retention_policies where distributor_id = ${t.id}`;
      await t.verified();
      return rows[0];
    });
    return c.json(row ?? defaults(), 200);
  });

  api.openapi(route({
    method: "put", path: "/retention-policy", tags: ["compliance"], operationId: "setRetentionPolicy",
    summary: "Change retention days within the bounds (OWNER: customers.erase, aal2; audited)",
    middleware: [auth, tenant(deps, "customers.erase")] as const,
    request: { headers: DistributorHeaders, body: jsonBody(PolicyPatch) },
    errors: ["forbidden", "mfa_required", "not_found"],
    responses: { 200: json(Policy, "The policy now in force") },
  }), async (c) => {
    const patch = c.req.valid("json");
    const t = c.get("tenant");
    const d = defaults();
    const v = (k: keyof typeof d) => patch[k] ?? null;
    const row = await t.transaction(async (tx) => {
      await t.verified();
      const [r] = await tx<(z.infer<typeof Policy> & { audited: number })[]>`
        with u as (
          insert into public.retention_policies as p (distributor_id, messages_days, ai_responses_days, audit_logs_days, pii_detection_results_days, updated_by)
          values (${t.id}, ${patch.messages_days ?? d.messages_days}, ${patch.ai_responses_days ?? d.ai_responses_days},
                  ${patch.audit_logs_days ?? d.audit_logs_days}, ${patch.pii_detection_results_days ?? d.pii_detection_results_days}, ${t.user.id})
          on conflict (distributor_id) do update set
            messages_days = coalesce(${v("messages_days")}::int, p.messages_days),
            ai_responses_days = coalesce(${v("ai_responses_days")}::int, p.ai_responses_days),
            audit_logs_days = coalesce(${v("audit_logs_days")}::int, p.audit_logs_days),
            pii_detection_results_days = coalesce(${v("pii_detection_results_days")}::int, p.pii_detection_results_days),
            updated_by = ${t.user.id}, updated_at = now()
          returning messages_days, ai_responses_days, audit_logs_days, pii_detection_results_days
        ), audit as (
          select ${t.auditCall(tx, "retention.update", "retention_policies", { detailsSql: tx`to_jsonb(u)` })} from u
        )
        select u.*, (select count(*) from audit)::int as audited from u`;
      return r;
    });
    const { audited: _a, ...policy } = row;
    return c.json(policy, 200);
  });
}

function defaults() {
  return {
    messages_days: RETENTION_LIMITS.messages_days.default, ai_responses_days: RETENTION_LIMITS.ai_responses_days.default,
    audit_logs_days: RETENTION_LIMITS.audit_logs_days.default, pii_detection_results_days: RETENTION_LIMITS.pii_detection_results_days.default,
  };
}
