// Buffer (API v1): the token travels as access_token (query on reads, form field on writes);
// updates are created form-encoded with profile_ids[], media[link] and scheduled_at (unix seconds).
import { z } from "zod";
import { callApi } from "./http.ts";
import { compact, metric, normalizeNetwork, type Connector } from "./types.ts";

const Profiles = z.array(z.object({
  id: z.string(), service: z.string().optional(), formatted_username: z.string().optional(), avatar_https: z.string().optional(),
}).passthrough());
const Created = z.object({ success: z.literal(true), updates: z.array(z.object({ id: z.string() }).passthrough()).min(1) }).passthrough();
const Update = z.object({ id: z.string(), statistics: z.record(z.string(), z.unknown()).optional() }).passthrough();

export const buffer: Connector = {
  async profiles(ctx) {
    const rows = await callApi(ctx, { method: "GET", path: "/1/profiles.json", query: { access_token: ctx.token }, bearer: false }, Profiles);
    return rows.map((p) => ({
      id: p.id, name: p.formatted_username ?? p.id, network: normalizeNetwork(p.service), ...(p.avatar_https ? { avatar_url: p.avatar_https } : {}),
    }));
  },
  async post(ctx, post) {
    const form = new URLSearchParams();
    form.append("access_token", ctx.token);
    form.append("text", post.text);
    for (const id of post.profileIds) form.append("profile_ids[]", id);
    if (post.mediaUrl) form.append("media[link]", post.mediaUrl);
    if (post.scheduledAt) form.append("scheduled_at", String(Math.floor(post.scheduledAt.getTime() / 1000)));
    const r = await callApi(ctx, { method: "POST", path: "/1/updates/create.json", bearer: false, form }, Created);
    return { platform_post_id: r.updates[0].id, profiles_posted: r.updates.length };
  },
  async analytics(ctx, postId) {
    const u = await callApi(ctx, { method: "GET", path: `/1/updates/${encodeURIComponent(postId)}.json`, query: { access_token: ctx.token }, bearer: false }, Update);
    const s = u.statistics ?? {};
    return compact({
      impressions: metric(s.reach),
      clicks: metric(s.clicks),
      likes: metric(s.likes) ?? metric(s.favorites),
      shares: metric(s.shares) ?? metric(s.retweets),
      comments: metric(s.comments) ?? metric(s.mentions),
    });
  },
  async validate(ctx) {
    await callApi(ctx, { method: "GET", path: "/1/user.json", query: { access_token: ctx.token }, bearer: false }, z.object({ id: z.string() }).passthrough());
  },
};
