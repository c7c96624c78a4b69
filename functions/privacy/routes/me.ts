// POST /me/export, POST /me/erase: a user of the social-marketing app exercises their own rights
// (user JWT; no distributor). What counts as their data is USER_DATA in shared/compliance
// (secrets, OAuth states and connections, social posts, support tickets, their user-level AI
// rows); rate-limit windows naming them are purged too.
//
// Export: metadata only for secrets (never a value, ciphertext or IV), every other row as
// stored minus ciphertexts, their secret audit log and their own audit reads. Erase (aal2, live
// session): the OAuth tokens are revoked at the providers first (outside any transaction, each
// failure logged, never fatal), then one transaction deletes every USER_DATA row — soft-deleted
// secrets included — writes a secret audit row per deleted secret and records the request in
// privacy_requests. Both write a data_access_audit row (ids and counts only).
import { z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { secretAuditCall } from "../../../shared/audit/index.ts";
import { USER_DATA } from "../../../shared/compliance/index.ts";
import type { Tx } from "../../../shared/db/index.ts";
import { ApiError, clientIp, json, route, userAgent, type AppEnv, type Router } from "../../../shared/http/index.ts";
import type { Platform } from "../../../shared/oauth/index.ts";
import type { StoredSecret } from "../../../shared/secrets/index.ts";
import type { Deps } from "../../../shared/runtime/deps.ts";
import { isUuid } from "../../../shared/uuid/index.ts";
import { isoTimestamps } from "../../../shared/schemas/index.ts";

/** Rows of each audit table an export includes at most (newest first). */
export const ME_EXPORT_AUDIT_MAX = 10_000;

const Row = z.record(z.string(), z.unknown());
const MeExport = z.object({
  request_id: z.string(),
  user_id: z.string(),
  generated_at: z.string(),
  secrets: z.array(z.object({
    service_name: z.string(), is_active: z.boolean().nullable(), created_at: z.string().nullable(), updated_at: z.string().nullable(),
    last_used_at: z.string().nullable(), metadata: z.unknown(),
  })).openapi({ description: "Metadata of every stored secret (deactivated ones too); never a value" }),
  oauth_connections: z.array(Row),
  social_posts: z.array(Row),
  support_tickets: z.array(Row).openapi({ description: "Ticket metadata (the sealed text is listed by GET /functions/v1/support-tickets)" }),
  ai_responses: z.array(Row).openapi({ description: "Their own AI requests (accounting and status; the sealed text is not exported)" }),
  audit: z.object({
    secret_audit_logs: z.array(Row),
    data_access_audit: z.array(Row).openapi({ description: "Their own audited reads (no distributor)" }),
    truncated: z.boolean().openapi({ description: `true when an audit table held more than ${ME_EXPORT_AUDIT_MAX} rows (the newest are exported)` }),
  }),
}).openapi("PrivacyMeExport");

const MeErasure = z.object({
  request_id: z.string(),
  user_id: z.string(),
  status: z.literal("completed"),
  counts: z.record(z.string(), z.number().int()).openapi({ description: "Rows deleted per table" }),
  tokens: z.object({
    revoked: z.array(z.string()).openapi({ description: "Platforms whose grant the provider revoked" }),
    not_revoked: z.array(z.string()).openapi({ description: "Platforms without a revocation endpoint, or whose revocation failed (logged); the tokens are deleted here either way" }),
  }),
  completed_at: z.string(),
}).openapi("PrivacyMeErasure");

/** Columns never exported: ciphertexts, IVs, hashes. */
const HIDDEN = /(_encrypted|_iv|_hash|^encrypted_value|^initialization_vector)$/;
const strip = (r: Record<string, unknown>) => Object.fromEntries(Object.entries(r).filter(([k]) => !HIDDEN.test(k)));

/** The USER_DATA tables that exist now. */
async function present(tx: Tx) {
  const rows = await tx<{ t: string }[]>`
    select c.table_name::text as t from information_schema.columns c
    where c.table_schema = 'public' and c.table_name = any(${USER_DATA.map((e) => e.table)}) and c.column_name = 'user_id'`;
  const has = new Set(rows.map((r) => r.t));
  return USER_DATA.filter((e) => has.has(e.table));
}

const cond = (tx: Tx, e: (typeof USER_DATA)[number]) =>
  e.where === "distributor_id is null" ? tx`and distributor_id is null` : tx``;

/** aal2 and, when the token names a session, a live one (as the tenant gate does for sensitive permissions). */
async function requireStrongSession(tx: Tx, user: AppEnv["Variables"]["user"]) {
  if (user.aal !== "aal2") throw new ApiError("mfa_required");
  const sid = user.claims.session_id;
  if (typeof sid === "string" && isUuid(sid)) {
    const [r] = await tx<{ ok: boolean }[]>`select private.session_alive(${sid}::uuid) as ok`;
    if (!r.ok) throw new ApiError("unauthorized", {}, "session no longer exists");
  }
}

export function meRoutes(api: Router, deps: Deps, auth: MiddlewareHandler<AppEnv>): void {
  const { db, logger } = deps;

  api.openapi(route({
    method: "post", path: "/me/export", tags: ["privacy"], operationId: "exportMyData",
    summary: "Everything the social-marketing app holds about the caller, as one JSON document (secret values never; audited, recorded)",
    middleware: [auth] as const,
    errors: [],
    responses: { 200: json(MeExport, "The export") },
  }), async (c) => {
    const user = c.get("user");
    const uid = user.id;
    const ip = clientIp(c), ua = userAgent(c);
    const out = await db.withService(async (tx) => {
      const targets = await present(tx);
      const tables: Record<string, Record<string, unknown>[]> = {};
      for (const e of targets) {
        if (e.table === "user_secrets") continue;
        const rows = await tx<{ j: Record<string, unknown> }[]>`
          select to_jsonb(x) as j from public.${tx(e.table)} x where ${tx(e.column)} = ${uid} ${cond(tx, e)}`;
        tables[e.table] = rows.map((r) => strip(r.j));
      }
      const secrets = await tx<z.infer<typeof MeExport>["secrets"]>`
        select service_name, is_active, to_json(created_at) #>> '{}' as created_at, to_json(updated_at) #>> '{}' as updated_at,
               to_json(last_used_at) #>> '{}' as last_used_at, metadata
        from public.user_secrets where user_id = ${uid} order by service_name`;
      const secretAudit = await tx<Record<string, unknown>[]>`
        select id, service_name, operation, success, host(ip_address) as ip_address, user_agent, error_message,
               to_json(created_at) #>> '{}' as created_at
        from public.secret_audit_logs where user_id = ${uid} order by secret_audit_logs.created_at desc, id desc limit ${ME_EXPORT_AUDIT_MAX + 1}`;
      const ownAudit = await tx<Record<string, unknown>[]>`
        select id, action, table_name, record_id, host(ip_address) as ip_address, user_agent, details, to_json(created_at) #>> '{}' as created_at
        from public.data_access_audit where user_id = ${uid} and distributor_id is null
        order by data_access_audit.created_at desc, id desc limit ${ME_EXPORT_AUDIT_MAX + 1}`;
      const truncated = secretAudit.length > ME_EXPORT_AUDIT_MAX || ownAudit.length > ME_EXPORT_AUDIT_MAX;
      const counts: Record<string, number> = { user_secrets: secrets.length };
      for (const [k, v] of Object.entries(tables)) counts[k] = v.length;
      const [req] = await tx<{ id: string }[]>`
        insert into public.privacy_requests (subject_user_id, type, status, requested_by, counts, completed_at)
        values (${uid}, 'export', 'completed', ${uid}, ${tx.json(counts)}, now()) returning id`;
      await tx`insert into public.data_access_audit (distributor_id, user_id, action, table_name, record_id, ip_address, user_agent, details)
               values (null, ${uid}, 'privacy.me_export', 'users', ${uid}, ${ip}::inet, ${ua},
                       ${tx.json({ request_id: req.id, counts })})`;
      return {
        req: req.id, secrets, tables, truncated,
        secretAudit: secretAudit.slice(0, ME_EXPORT_AUDIT_MAX), ownAudit: ownAudit.slice(0, ME_EXPORT_AUDIT_MAX),
      };
    });
    return c.json(isoTimestamps({
      request_id: out.req, user_id: uid, generated_at: deps.now().toISOString(),
      secrets: out.secrets,
      oauth_connections: out.tables.oauth_connections ?? [],
      social_posts: out.tables.social_posts ?? [],
      support_tickets: out.tables.support_tickets ?? [],
      ai_responses: out.tables.ai_responses ?? [],
      audit: { secret_audit_logs: out.secretAudit, data_access_audit: out.ownAudit, truncated: out.truncated },
    }), 200);
  });

  api.openapi(route({
    method: "post", path: "/me/erase", tags: ["privacy"], operationId: "eraseMyData",
    summary: "Delete the caller's social-app data: secrets (deactivated ones too), tokens (revoked at the providers where possible), OAuth states, posts, tickets, AI rows (aal2; recorded and audited)",
    description: "The account itself (auth.users) is Supabase Auth's and stays; the audit trail keeps ids only. " +
      "What the caller did as a distributor's staff member is that distributor's record and stays.",
    middleware: [auth] as const,
    errors: ["mfa_required"],
    responses: { 200: json(MeErasure, "The erasure, done") },
  }), async (c) => {
    const user = c.get("user");
    const uid = user.id;
    const ip = clientIp(c), ua = userAgent(c);
    // shared/oauth (its provider registry, oauth4webapi) on first use: ~25 ms of a cold start otherwise.
    const { OAUTH_PLATFORMS, OAuthFailure, openTokens, resolveProvider, revokeToken } = await import("../../../shared/oauth/index.ts");
    const serviceNames = OAUTH_PLATFORMS.map((p) => `${p}_oauth_token`);
    // 1. Check the session and read the live tokens (short transaction, nothing deleted yet).
    const tokens = await db.withService(async (tx) => {
      await requireStrongSession(tx, user);
      return await tx<(StoredSecret & { service_name: string })[]>`
        select service_name, encrypted_value, initialization_vector, key_version, aad_bound
        from public.user_secrets where user_id = ${uid} and service_name = any(${serviceNames}) and is_active order by service_name`;
    });
    // 2. Revoke at the providers, outside any transaction (as oauth-callback's POST /disconnect does).
    const revoked: string[] = [], notRevoked: string[] = [];
    for (const row of tokens) {
      const platform = row.service_name.replace(/_oauth_token$/, "") as Platform;
      const provider = resolveProvider(deps.config, platform);
      let ok = false;
      if (provider?.revocationUrl) {
        try {
          const t = await openTokens(deps.keyring, row, uid, provider);
          ok = await revokeToken(provider, t.refresh_token ?? t.access_token, t.refresh_token ? "refresh_token" : "access_token",
            { fetch: deps.fetch, timeoutMs: deps.config.OAUTH_HTTP_TIMEOUT_MS, now: deps.now });
        } catch (err) {
          logger.warn("privacy.revoke_failed", {
            requestId: c.get("requestId"), platform, code: err instanceof OAuthFailure ? err.code : "internal",
          });
        }
      }
      (ok ? revoked : notRevoked).push(platform);
    }
    // 3. One transaction: delete everything, record, audit.
    const out = await db.withService(async (tx) => {
      await requireStrongSession(tx, user);
      const targets = await present(tx);
      const counts: Record<string, number> = {};
      const secretNames = (await tx<{ service_name: string }[]>`
        select service_name from public.user_secrets where user_id = ${uid} order by service_name`).map((r) => r.service_name);
      for (const e of targets) {
        const r = await tx`delete from public.${tx(e.table)} where ${tx(e.column)} = ${uid} ${cond(tx, e)}`;
        if (r.count) counts[e.table] = r.count;
      }
      const rl = await tx`delete from private.rate_limits where strpos(key, ${uid}) > 0`;
      if (rl.count) counts.rate_limits = rl.count;
      for (const serviceName of secretNames) {
        await tx`select ${secretAuditCall(tx, { userId: uid, serviceName, operation: "delete", ip, userAgent: ua, success: true })}`;
      }
      const [req] = await tx<{ id: string; completed_at: string }[]>`
        insert into public.privacy_requests (subject_user_id, type, status, requested_by, counts, details, completed_at)
        values (${uid}, 'erase', 'completed', ${uid}, ${tx.json(counts)},
                ${tx.json({ tokens_revoked: revoked, tokens_not_revoked: notRevoked })}, now())
        returning id, to_json(completed_at) #>> '{}' as completed_at`;
      await tx`insert into public.data_access_audit (distributor_id, user_id, action, table_name, record_id, ip_address, user_agent, details)
               values (null, ${uid}, 'privacy.me_erase', 'users', ${uid}, ${ip}::inet, ${ua},
                       ${tx.json({ request_id: req.id, counts })})`;
      return { req, counts };
    });
    logger.info("privacy.me_erased", { requestId: c.get("requestId"), total: Object.values(out.counts).reduce((a, b) => a + b, 0) });
    return c.json(isoTimestamps({
      request_id: out.req.id, user_id: uid, status: "completed" as const, counts: out.counts,
      tokens: { revoked, not_revoked: notRevoked }, completed_at: out.req.completed_at,
    }), 200);
  });
}
