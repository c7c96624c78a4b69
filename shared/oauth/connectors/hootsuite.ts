// Hootsuite (REST v1, Bearer): socialNetworks, messages {text, socialNetworkIds, scheduledSendTime}, me.
import { z } from "zod";
import { callApi } from "./http.ts";
import { compact, metric, normalizeNetwork, type Connector } from "./types.ts";

const Networks = z.object({ data: z.array(z.object({
  id: z.union([z.string(), z.number()]).transform(String), type: z.string().optional(),
  socialNetworkUsername: z.string().nullable().optional(), avatarUrl: z.string().nullable().optional(),
}).passthrough()) });
const Messages = z.object({ data: z.array(z.object({ id: z.union([z.string(), z.number()]).transform(String) }).passthrough()).min(1) });
const Message = z.object({ data: z.array(z.object({ id: z.union([z.string(), z.number()]).transform(String), statistics: z.record(z.string(), z.unknown()).optional() }).passthrough()) });

export const hootsuite: Connector = {
  async profiles(ctx) {
    const r = await callApi(ctx, { method: "GET", path: "/v1/socialNetworks", bearer: true }, Networks);
    return r.data.map((n) => ({
      id: n.id, name: n.socialNetworkUsername ?? n.id, network: normalizeNetwork(n.type), ...(n.avatarUrl ? { avatar_url: n.avatarUrl } : {}),
    }));
  },
  async post(ctx, post) {
    const json = {
      text: post.text,
      socialNetworkIds: post.profileIds,
      ...(post.scheduledAt ? { scheduledSendTime: post.scheduledAt.toISOString().replace(/\.\d{3}Z$/, "Z") } : {}),
      ...(post.mediaUrl ? { mediaUrls: [{ url: post.mediaUrl }] } : {}),
    };
    const r = await callApi(ctx, { method: "POST", path: "/v1/messages", bearer: true, json }, Messages);
    return { platform_post_id: r.data[0].id, profiles_posted: r.data.length };
  },
  async analytics(ctx, postId) {
    // The seed: Hootsuite's message answer carries no metrics (yet); report what is there.
    const r = await callApi(ctx, { method: "GET", path: `/v1/messages/${encodeURIComponent(postId)}`, bearer: true }, Message);
    const s = r.data[0]?.statistics ?? {};
    return compact({ impressions: metric(s.impressions), clicks: metric(s.clicks), likes: metric(s.likes), shares: metric(s.shares), comments: metric(s.comments) });
  },
  async validate(ctx) {
    await callApi(ctx, { method: "GET", path: "/v1/me", bearer: true }, z.object({ data: z.object({ id: z.unknown() }).passthrough() }));
  },
};
