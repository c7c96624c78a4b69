// GET /profiles, POST /posts, GET /posts/{id}/analytics, POST /validate.
import { z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { rateLimitHeaders } from "../../../shared/db/index.ts";
import {
  ApiError, clientIp, errorCodeOf, json, jsonBody, RESPONSE_HEADERS, route, userAgent, type AppEnv, type Router,
} from "../../../shared/http/index.ts";
import { accessToken, markNeedsReauth, resolveProvider, tokenDeps, type ResolvedProvider } from "../../../shared/oauth/index.ts";
import { CONNECTORS, ProviderUnauthorized, textLimitOf, type ApiContext, type Connector } from "../../../shared/oauth/connectors/index.ts";
import type { Deps } from "../../../shared/runtime/deps.ts";
import { text } from "../../../shared/schemas/index.ts";

type Ctx = Context<AppEnv>;
const SOCIAL_PLATFORMS = ["buffer", "hootsuite", "later", "sprout_social"] as const;
const Platform = z.enum(SOCIAL_PLATFORMS).openapi({ example: "buffer" });
const ProfileId = z.string().min(1).max(200).regex(/^[A-Za-z0-9_.:@-]+$/);

const Profile = z.object({ id: z.string(), name: z.string(), network: z.string(), avatar_url: z.string().optional() }).openapi("SocialProfile");
const PostBody = z.object({
  platform: Platform,
  profileIds: z.array(ProfileId).min(1).max(50),
  text: text().min(1).max(63206),
  mediaUrl: z.string().max(2048).url().refine((v) => v.startsWith("https://"), "https only").optional(),
  scheduledAt: z.string().datetime({ offset: true }).optional().openapi({ description: "ISO 8601, in the future, within a year" }),
});
const PostResult = z.object({
  success: z.literal(true), platform_post_id: z.string(), scheduled: z.boolean(), profiles_posted: z.number().int(),
}).openapi("SocialPostResult");
const Metrics = z.object({
  impressions: z.number().optional(), clicks: z.number().optional(), likes: z.number().optional(),
  shares: z.number().optional(), comments: z.number().optional(),
}).openapi("SocialPostMetrics");

const YEAR_MS = 366 * 24 * 3600 * 1000;

export function registerSocialRoutes(api: Router, deps: Deps, auth: MiddlewareHandler) {
  const { db, config, logger } = deps;
  const { "Retry-After": _, ...RL } = RESPONSE_HEADERS;
  const td = tokenDeps(deps);
  const errors = ["not_found", "reconnection_required", "provider_not_configured", "rate_limited", "upstream"] as const;

  const providerOf = (platform: (typeof SOCIAL_PLATFORMS)[number]): { p: ResolvedProvider; connector: Connector } => {
    const p = resolveProvider(config, platform);
    if (!p) throw new ApiError("provider_not_configured", {}, `${platform} has no client credentials`);
    return { p, connector: CONNECTORS[p.connector!] };
  };

  /** Per user, per platform: counted before anything reaches the provider. */
  const limit = (c: Ctx, platform: string) =>
    db.withUser(c.get("user"), (tx) => tx`select 1`, {
      rateLimit: { key: `social:${c.get("user").id}:${platform}`, limit: config.SOCIAL_POST_RATE_LIMIT_PER_MINUTE, windowSeconds: 60 },
      onRateLimit: (s) => c.set("rateLimitHeaders", rateLimitHeaders(s)),
    });

  /** Run a provider call with a fresh token; a 401 gets one forced refresh, then 409. */
  async function withToken<T>(c: Ctx, p: ResolvedProvider, fn: (ctx: ApiContext) => Promise<T>): Promise<T> {
    const uid = c.get("user").id;
    const src = { ip: clientIp(c), userAgent: userAgent(c) };
    const ctx = (token: string): ApiContext => ({ baseUrl: p.apiBaseUrl, token, fetch: deps.fetch, timeoutMs: config.OAUTH_HTTP_TIMEOUT_MS });
    const since = new Date();
    const first = await accessToken(td, p, uid, { src });
    try {
      return await fn(ctx(first.token));
    } catch (err) {
      if (!(err instanceof ProviderUnauthorized)) throw err;
    }
    const second = first.refreshed ? null : await accessToken(td, p, uid, { src, force: true, since });
    if (second && second.token !== first.token) {
      try {
        return await fn(ctx(second.token));
      } catch (err) {
        if (!(err instanceof ProviderUnauthorized)) throw err;
      }
    }
    await db.withService((tx) => markNeedsReauth(tx, uid, p.platform));
    logger.info("social.reauth_needed", { requestId: c.get("requestId"), platform: p.platform });
    throw new ApiError("reconnection_required", {}, "provider 401 after refresh");
  }

  const respond = <T extends object>(c: Ctx, body: T) => c.json(body, 200, c.get("rateLimitHeaders") ?? {}) as never;

  api.openapi(
    route({
      method: "get", path: "/profiles", operationId: "listProfiles", middleware: [auth] as const,
      summary: "The profiles (social accounts) of a connection",
      request: { query: z.object({ platform: Platform }) },
      errors: [...errors],
      responses: { 200: json(z.object({ profiles: z.array(Profile) }), "Profiles", RL) },
    }),
    async (c) => {
      const { platform } = c.req.valid("query");
      const { p, connector } = providerOf(platform);
      await limit(c, platform);
      return respond(c, { profiles: await withToken(c, p, (ctx) => connector.profiles(ctx)) });
    },
  );

  api.openapi(
    route({
      method: "post", path: "/posts", operationId: "createPost", middleware: [auth] as const,
      summary: "Post now or schedule, to one or more profiles of a connection",
      request: { body: jsonBody(PostBody) },
      errors: [...errors],
      responses: { 200: json(PostResult, "Posted or scheduled", RL) },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const scheduledAt = body.scheduledAt ? new Date(body.scheduledAt) : undefined;
      const now = deps.now().getTime();
      if (scheduledAt && (scheduledAt.getTime() <= now || scheduledAt.getTime() > now + YEAR_MS)) {
        throw new ApiError("invalid_request", {}, "scheduledAt out of range", [{ in: "body", path: "scheduledAt", code: "out_of_range" }]);
      }
      const profileIds = [...new Set(body.profileIds)];
      const { p, connector } = providerOf(body.platform);
      await limit(c, body.platform);
      const uid = c.get("user").id;
      const record = (status: "published" | "scheduled" | "failed", postId: string | null, errorCode: string | null) =>
        db.withUser(c.get("user"), (tx) => tx`
          insert into public.social_posts (user_id, platform, profile_ids, platform_post_id, scheduled_at, status, error_code)
          values (${uid}, ${body.platform}, ${profileIds}, ${postId}, ${scheduledAt ?? null}, ${status}, ${errorCode})`);
      let result;
      try {
        result = await withToken(c, p, async (ctx) => {
          // The text limit is the strictest of the chosen profiles' networks.
          const profiles = await connector.profiles(ctx);
          const byId = new Map(profiles.map((x) => [x.id, x]));
          const unknown = profileIds.findIndex((id) => !byId.has(id));
          if (unknown >= 0) {
            throw new ApiError("invalid_request", {}, "profile not in this connection", [{ in: "body", path: `profileIds.${unknown}`, code: "unknown_profile" }]);
          }
          const max = textLimitOf(profileIds.map((id) => byId.get(id)!.network));
          if ([...body.text].length > max) {
            throw new ApiError("invalid_request", {}, `text over ${max}`, [{ in: "body", path: "text", code: "too_long" }]);
          }
          return await connector.post(ctx, { profileIds, text: body.text, mediaUrl: body.mediaUrl, scheduledAt });
        });
      } catch (err) {
        const code = errorCodeOf(err);
        if (code !== "invalid_request") await record("failed", null, code).catch(() => {});
        throw err;
      }
      await record(scheduledAt ? "scheduled" : "published", result.platform_post_id, null);
      logger.info("social.posted", { requestId: c.get("requestId"), platform: body.platform, profiles: result.profiles_posted, scheduled: !!scheduledAt });
      return respond(c, { success: true as const, platform_post_id: result.platform_post_id, scheduled: !!scheduledAt, profiles_posted: result.profiles_posted });
    },
  );

  api.openapi(
    route({
      method: "get", path: "/posts/{id}/analytics", operationId: "postAnalytics", middleware: [auth] as const,
      summary: "Normalized metrics of a post (missing metrics are omitted)",
      request: {
        params: z.object({ id: z.string().min(1).max(512).regex(/^[A-Za-z0-9_.:-]+$/).openapi({ description: "The platform_post_id createPost answered" }) }),
        query: z.object({ platform: Platform }),
      },
      errors: [...errors],
      responses: { 200: json(Metrics, "Metrics", RL) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { platform } = c.req.valid("query");
      const { p, connector } = providerOf(platform);
      await limit(c, platform);
      return respond(c, await withToken(c, p, (ctx) => connector.analytics(ctx, id)));
    },
  );

  api.openapi(
    route({
      method: "post", path: "/validate", operationId: "validateConnection", middleware: [auth] as const,
      summary: "Whether the connection's token works (the provider's \"me\" call)",
      request: { body: jsonBody(z.object({ platform: Platform })) },
      errors: [...errors],
      responses: { 200: json(z.object({ valid: z.boolean() }), "valid: false when the provider refuses the token even after a refresh", RL) },
    }),
    async (c) => {
      const { platform } = c.req.valid("json");
      const { p, connector } = providerOf(platform);
      await limit(c, platform);
      try {
        await withToken(c, p, (ctx) => connector.validate(ctx));
        return respond(c, { valid: true });
      } catch (err) {
        if (err instanceof ApiError && err.code === "reconnection_required") return respond(c, { valid: false });
        throw err;
      }
    },
  );
}
