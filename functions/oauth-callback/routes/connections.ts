// GET /connections, POST /refresh {platform}, POST /disconnect {platform} (user JWT).
import { z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { secretAuditCall, writeSecretAudit } from "../../../shared/audit/index.ts";
import { ApiError, clientIp, json, jsonBody, RESPONSE_HEADERS, route, userAgent, type Router } from "../../../shared/http/index.ts";
import {
  accessToken, isConfigured, OAUTH_PLATFORMS, OAuthFailure, openTokens, PROVIDERS, resolveProvider, revokeToken, serviceNameOf, tokenDeps,
  type Platform,
} from "../../../shared/oauth/index.ts";
import type { StoredSecret } from "../../../shared/secrets/index.ts";
import type { Deps } from "../../../shared/runtime/deps.ts";
import { toIso } from "../../../shared/schemas/index.ts";
import { limitOptions, PlatformSchema, providerOr501, respond, type Ctx } from "./common.ts";

const Connection = z.object({
  platform: PlatformSchema,
  connected: z.boolean(),
  expires_at: z.string().nullable(),
  scopes: z.array(z.string()),
  needs_reauth: z.boolean(),
  configured: z.boolean(),
}).openapi("OAuthConnection");
const PlatformBody = z.object({ platform: PlatformSchema });

export function registerConnections(api: Router, deps: Deps, auth: MiddlewareHandler) {
  const { db, keyring, logger } = deps;
  const { "Retry-After": _, ...RL } = RESPONSE_HEADERS;
  const src = (c: Ctx) => ({ ip: clientIp(c), userAgent: userAgent(c) });

  const listOf = async (c: Ctx, uid: string) => {
    const rows = await db.withUser(c.get("user"), (tx) => tx<{ platform: Platform; active: boolean; needs_reauth: boolean | null; expires_at: Date | null; scopes: string[] | null }[]>`
      select p.platform,
             exists (select 1 from public.user_secrets s where s.user_id = ${uid} and s.service_name = p.platform || '_oauth_token' and s.is_active) as active,
             c.needs_reauth, c.expires_at, c.scopes
      from unnest(${OAUTH_PLATFORMS as unknown as string[]}::text[]) as p(platform)
      left join public.oauth_connections c on c.user_id = ${uid} and c.platform = p.platform`, limitOptions(deps, c));
    const byPlatform = new Map(rows.map((r) => [r.platform, r]));
    return OAUTH_PLATFORMS.map((platform) => {
      const r = byPlatform.get(platform);
      const connected = !!r?.active;
      return {
        platform,
        connected,
        expires_at: connected && r?.expires_at ? toIso(r.expires_at) : null,
        scopes: connected ? r?.scopes ?? [] : [],
        needs_reauth: connected && !!r?.needs_reauth,
        configured: isConfigured(deps.config, platform),
      };
    });
  };

  api.openapi(
    route({
      method: "get", path: "/connections", operationId: "listConnections", middleware: [auth] as const,
      summary: "Every platform: connected, expiry, scopes, needs_reauth, configured",
      errors: ["rate_limited"],
      responses: { 200: json(z.object({ connections: z.array(Connection) }), "One entry per platform", RL) },
    }),
    async (c) => respond(c, { connections: await listOf(c, c.get("user").id) }),
  );

  api.openapi(
    route({
      method: "post", path: "/refresh", operationId: "refreshConnection", middleware: [auth] as const,
      summary: "Refresh a connection's token now (one refresh however many ask at once)",
      request: { body: jsonBody(PlatformBody) },
      errors: ["not_found", "reconnection_required", "provider_not_configured", "rate_limited", "upstream"],
      responses: { 200: json(Connection, "The connection after the refresh", RL) },
    }),
    async (c) => {
      const { platform } = c.req.valid("json");
      const provider = providerOr501(deps, platform);
      const since = new Date();
      // Counted against the caller's limit before the provider is called.
      await db.withUser(c.get("user"), (tx) => tx`select 1`, limitOptions(deps, c));
      await accessToken(tokenDeps(deps), provider, c.get("user").id, { force: true, since, src: src(c) });
      const list = await listOf(c, c.get("user").id);
      return respond(c, list.find((x) => x.platform === platform)!);
    },
  );

  api.openapi(
    route({
      method: "post", path: "/disconnect", operationId: "disconnect", middleware: [auth] as const,
      summary: "Revoke at the provider (where it can), then remove the stored tokens",
      request: { body: jsonBody(PlatformBody) },
      errors: ["not_found", "rate_limited"],
      responses: { 200: json(z.object({ success: z.literal(true), revoked: z.boolean() }), "Disconnected", RL) },
    }),
    async (c) => {
      const { platform } = c.req.valid("json");
      const user = c.get("user");
      const uid = user.id;
      const serviceName = serviceNameOf(platform);
      const provider = resolveProvider(deps.config, platform);
      const [row] = await db.withUser(user, async (tx) => {
        const rows = await tx<StoredSecret[]>`select encrypted_value, initialization_vector, key_version, aad_bound
          from public.user_secrets where user_id = ${uid} and service_name = ${serviceName} and is_active`;
        if (rows.length) await writeSecretAudit(tx, { userId: uid, serviceName, operation: "read", ...src(c), success: true });
        return rows;
      }, limitOptions(deps, c));
      if (!row) throw new ApiError("not_found", {}, `${platform} not connected`);

      let revoked = false;
      if (provider?.revocationUrl) {
        try {
          const t = await openTokens(keyring, row, uid, provider);
          // Revoking the refresh token ends the whole grant (RFC 7009 §2.1); else the access token.
          revoked = await revokeToken(provider, t.refresh_token ?? t.access_token, t.refresh_token ? "refresh_token" : "access_token",
            { fetch: deps.fetch, timeoutMs: deps.config.OAUTH_HTTP_TIMEOUT_MS, now: deps.now });
        } catch (err) {
          // Not fatal: the tokens are removed here either way.
          logger.warn("oauth.revoke_failed", {
            requestId: c.get("requestId"), platform, code: err instanceof OAuthFailure ? err.code : "internal",
          });
        }
      }
      await db.withUser(user, async (tx) => {
        const [done] = await tx`
          with d as (
            update public.user_secrets set is_active = false, updated_at = now()
            where user_id = ${uid} and service_name = ${serviceName} and is_active returning id),
          c as (delete from public.oauth_connections where user_id = ${uid} and platform = ${platform} returning 1)
          select ${secretAuditCall(tx, { userId: uid, serviceName, operation: "delete", ...src(c), success: true })}, (select count(*) from c) as n
          from d`;
        if (!done) throw new ApiError("not_found", {}, `${platform} disconnected meanwhile`);
      });
      logger.info("oauth.disconnected", { requestId: c.get("requestId"), platform, revoked, hasRevocation: !!PROVIDERS[platform].revocationUrl });
      return respond(c, { success: true as const, revoked });
    },
  );
}
