// Later (v1, Bearer): social_profiles; one POST /v1/posts per profile; a post is read back under
// its profile, so the post id we hand out is "<profile id>:<post id>".
import { z } from "zod";
import { ApiError } from "../../http/errors.ts";
import { callApi } from "./http.ts";
import { compact, metric, normalizeNetwork, type Connector } from "./types.ts";

const Id = z.union([z.string(), z.number()]).transform(String);
const Profiles = z.object({ social_profiles: z.array(z.object({
  id: Id, name: z.string().optional(), network: z.string().optional(), avatar_url: z.string().nullable().optional(),
}).passthrough()) });
const Created = z.object({ post: z.object({ id: Id }).passthrough() });
const Post = z.object({ post: z.object({ id: Id, metrics: z.record(z.string(), z.unknown()).optional() }).passthrough() });

export const later: Connector = {
  async profiles(ctx) {
    const r = await callApi(ctx, { method: "GET", path: "/v1/social_profiles", bearer: true }, Profiles);
    return r.social_profiles.map((p) => ({
      id: p.id, name: p.name ?? p.id, network: normalizeNetwork(p.network), ...(p.avatar_url ? { avatar_url: p.avatar_url } : {}),
    }));
  },
  async post(ctx, post) {
    const ids: string[] = [];
    for (const profileId of post.profileIds) {
      const json = {
        social_profile_id: profileId,
        text: post.text,
        ...(post.mediaUrl ? { media_url: post.mediaUrl } : {}),
        ...(post.scheduledAt ? { scheduled_at: post.scheduledAt.toISOString() } : {}),
      };
      const r = await callApi(ctx, { method: "POST", path: "/v1/posts", bearer: true, json }, Created);
      ids.push(`${profileId}:${r.post.id}`);
    }
    return { platform_post_id: ids[0], profiles_posted: ids.length };
  },
  async analytics(ctx, postId) {
    const m = /^([^:]+):(.+)$/.exec(postId);
    if (!m) throw new ApiError("not_found", {}, "later post id without its profile");
    const r = await callApi(ctx, {
      method: "GET", path: `/v1/social_profiles/${encodeURIComponent(m[1])}/posts/${encodeURIComponent(m[2])}`, bearer: true,
    }, Post);
    const s = r.post.metrics ?? {};
    return compact({ impressions: metric(s.impressions), clicks: metric(s.clicks), likes: metric(s.likes), shares: metric(s.shares), comments: metric(s.comments) });
  },
  async validate(ctx) {
    await callApi(ctx, { method: "GET", path: "/v1/social_profiles", bearer: true }, Profiles);
  },
};
