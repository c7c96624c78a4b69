// Sprout Social (v1, Bearer): customer/profiles, messages {content, profileIds, scheduledTime}, me.
import { z } from "zod";
import { callApi } from "./http.ts";
import { compact, metric, normalizeNetwork, type Connector } from "./types.ts";

const Id = z.union([z.string(), z.number()]).transform(String);
const Profiles = z.object({ data: z.array(z.object({
  customer_profile_id: Id, name: z.string().optional(), network_type: z.string().optional(), avatar_url: z.string().nullable().optional(),
}).passthrough()) });
const Messages = z.object({ data: z.array(z.object({ id: Id }).passthrough()).min(1) });
const Message = z.object({ data: z.array(z.object({ id: Id, metrics: z.record(z.string(), z.unknown()).optional() }).passthrough()) });

export const sproutSocial: Connector = {
  async profiles(ctx) {
    const r = await callApi(ctx, { method: "GET", path: "/v1/customer/profiles", bearer: true }, Profiles);
    return r.data.map((p) => ({
      id: p.customer_profile_id, name: p.name ?? p.customer_profile_id, network: normalizeNetwork(p.network_type),
      ...(p.avatar_url ? { avatar_url: p.avatar_url } : {}),
    }));
  },
  async post(ctx, post) {
    const json = {
      content: post.text,
      profileIds: post.profileIds,
      ...(post.scheduledAt ? { scheduledTime: post.scheduledAt.toISOString().replace(/\.\d{3}Z$/, "Z") } : {}),
      ...(post.mediaUrl ? { mediaUrls: [post.mediaUrl] } : {}),
    };
    const r = await callApi(ctx, { method: "POST", path: "/v1/messages", bearer: true, json }, Messages);
    return { platform_post_id: r.data[0].id, profiles_posted: post.profileIds.length };
  },
  async analytics(ctx, postId) {
    const r = await callApi(ctx, { method: "GET", path: `/v1/messages/${encodeURIComponent(postId)}`, bearer: true }, Message);
    const s = r.data[0]?.metrics ?? {};
    return compact({
      impressions: metric(s["lifetime.impressions"]), clicks: metric(s["lifetime.post_link_clicks"]), likes: metric(s["lifetime.likes"]),
      shares: metric(s["lifetime.shares_count"]), comments: metric(s["lifetime.comments_count"]),
    });
  },
  async validate(ctx) {
    await callApi(ctx, { method: "GET", path: "/v1/me", bearer: true }, z.object({ data: z.unknown() }).passthrough());
  },
};
