// What every connector adapter offers social-post, in one normalized shape.
import type { ApiContext } from "./http.ts";

export interface Profile {
  id: string;
  name: string;
  /** twitter | facebook | instagram | linkedin | … (lower case), or "unknown". */
  network: string;
  avatar_url?: string;
}

export interface NewPost {
  profileIds: string[];
  text: string;
  mediaUrl?: string;
  scheduledAt?: Date;
}

export interface PostResult {
  platform_post_id: string;
  profiles_posted: number;
}

/** Missing metrics are omitted, never invented. */
export interface Metrics {
  impressions?: number;
  clicks?: number;
  likes?: number;
  shares?: number;
  comments?: number;
}

export interface Connector {
  profiles(ctx: ApiContext): Promise<Profile[]>;
  post(ctx: ApiContext, post: NewPost): Promise<PostResult>;
  analytics(ctx: ApiContext, postId: string): Promise<Metrics>;
  /** Resolves when the token works (the provider's "me" call); throws ProviderUnauthorized when not. */
  validate(ctx: ApiContext): Promise<void>;
}

/** Only finite, non-negative numbers count as a metric. */
export function metric(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : undefined;
}

export function compact(m: Metrics): Metrics {
  return Object.fromEntries(Object.entries(m).filter(([, v]) => v !== undefined)) as Metrics;
}

const NETWORKS: Record<string, string> = {
  twitter: "twitter", x: "twitter",
  facebook: "facebook", facebookpage: "facebook", fb_page: "facebook", facebook_page: "facebook",
  instagram: "instagram", instagrambusiness: "instagram", fb_instagram_account: "instagram", instagram_business: "instagram",
  linkedin: "linkedin", linkedincompany: "linkedin", linkedin_company: "linkedin",
  youtube: "youtube", tiktok: "tiktok", pinterest: "pinterest", threads: "threads",
};
export const normalizeNetwork = (v: unknown) => NETWORKS[String(v ?? "").toLowerCase()] ?? "unknown";
