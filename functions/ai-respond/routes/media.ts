// Media for the social-marketing app (seed "Google Gemini (Video & Image Generation)"):
// POST /media/estimate (price table only), POST /media/video (a Gemini long-running video
// operation with the user's own Gemini key), GET /media/operations/{id} (its state).
import { z } from "@hono/zod-openapi";
import { ApiError, json, jsonBody, route, type Router } from "../../../shared/http/index.ts";
import { text } from "../../../shared/schemas/index.ts";
import { MEDIA_MODEL_IDS, MEDIA_PRICES, mediaCost, type MediaModel } from "../../../shared/ai/prices.ts";
import { classify, toFailure } from "../../../shared/ai/classify.ts";
import { getUserSecret } from "../../../shared/secrets/index.ts";
import { NO_STORE, takeUserLimit, type RouteContext } from "./context.ts";

export const ASPECT_RATIOS = ["16:9", "9:16"] as const;

const Estimate = z.object({
  kind: z.enum(["video", "image"]),
  model: z.enum(["veo-3", "veo-3-fast", "nano-banana"]),
  seconds: z.number().int().min(1).max(8).optional(),
}).refine((b) => MEDIA_PRICES[b.model].kind === b.kind, { message: "model does not make this kind", path: ["model"] })
  .refine((b) => b.kind === "image" || b.seconds !== undefined, { message: "seconds required for video", path: ["seconds"] })
  .openapi("MediaEstimateRequest");

const Video = z.object({
  prompt: text().trim().min(3).max(2000),
  model: z.enum(["veo-3", "veo-3-fast"]).default("veo-3-fast"),
  seconds: z.number().int().min(1).max(8).default(8),
  aspect_ratio: z.enum(ASPECT_RATIOS).default("16:9"),
}).openapi("VideoRequest");

/** Operation ids travel as base64url of Gemini's operation name (which contains slashes). */
const opId = (name: string) => btoa(name).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const opName = (id: string) => {
  try {
    const n = atob(id.replace(/-/g, "+").replace(/_/g, "/"));
    return /^models\/[\w.-]+\/operations\/[\w-]+$/.test(n) ? n : null;
  } catch {
    return null;
  }
};

export function mediaRoutes(api: Router, { deps, auth, gw }: RouteContext) {
  api.openapi(route({
    method: "post", path: "/media/estimate", tags: ["media"], operationId: "estimateMedia",
    summary: "What a video or image would cost (price table: Veo 3 $0.75/s, Veo 3 Fast $0.40/s, image $0.039)",
    middleware: [auth] as const,
    request: { body: jsonBody(Estimate) },
    responses: { 200: json(z.object({ kind: z.string(), model: z.string(), seconds: z.number().nullable(), cost_usd: z.number() }), "The estimate", NO_STORE) },
  }), (c) => {
    const b = c.req.valid("json");
    const seconds = b.kind === "video" ? b.seconds! : null;
    return c.json({ kind: b.kind, model: b.model, seconds, cost_usd: mediaCost(b.model as MediaModel, seconds ?? 0) }, 200);
  });

  const userGemini = async (userId: string) => {
    const key = await getUserSecret(deps, userId, "gemini_api_key_encrypted");
    if (!key) throw new ApiError("invalid_request", {}, "no gemini key", [{ in: "body", path: "gemini_api_key_encrypted", code: "not_configured" }]);
    // The Gemini SDK is loaded on first use (cold start: see docs/performance.md).
    const { geminiClient } = await import("../../../shared/ai/wire/gemini.ts");
    return geminiClient({ apiKey: key, baseUrl: gw.providers.gemini.baseUrl, fetch: deps.fetch, timeoutMs: deps.config.AI_ATTEMPT_TIMEOUT_MS });
  };
  const upstream = (err: unknown): never => {
    const cls = classify(toFailure(err));
    if (cls.decision === "stop") throw new ApiError("invalid_request", {}, `gemini refused: ${cls.errorClass}`);
    throw new ApiError("ai_unavailable", {}, `gemini failed: ${cls.errorClass}`);
  };

  api.openapi(route({
    method: "post", path: "/media/video", tags: ["media"], operationId: "startVideo",
    summary: "Start a Gemini (Veo) video with your own Gemini key; poll GET /media/operations/{id}",
    middleware: [auth] as const,
    request: { body: jsonBody(Video) },
    errors: ["rate_limited", "ai_unavailable"],
    responses: { 202: json(z.object({ operation_id: z.string(), cost_usd: z.number() }), "Started", NO_STORE) },
  }), async (c) => {
    const b = c.req.valid("json");
    await takeUserLimit(deps, c, "media");
    const ai = await userGemini(c.get("user").id);
    const { maskPii } = await import("../../../shared/pii/index.ts"); // on first use, not at start
    const op = await ai.models.generateVideos({
      model: MEDIA_MODEL_IDS[b.model], prompt: maskPii(b.prompt).masked,
      config: { numberOfVideos: 1, durationSeconds: b.seconds, aspectRatio: b.aspect_ratio },
    }).catch(upstream);
    if (!op.name) throw new ApiError("ai_unavailable", {}, "no operation name");
    return c.json({ operation_id: opId(op.name), cost_usd: mediaCost(b.model, b.seconds) }, 202);
  });

  api.openapi(route({
    method: "get", path: "/media/operations/{id}", tags: ["media"], operationId: "getMediaOperation",
    summary: "State of a video operation",
    middleware: [auth] as const,
    request: { params: z.object({ id: z.string().max(400).openapi({ param: { name: "id", in: "path" } }) }) },
    errors: ["not_found", "ai_unavailable"],
    responses: {
      200: json(z.object({ operation_id: z.string(), done: z.boolean(), videos: z.array(z.object({ uri: z.string().nullable() })), failed: z.boolean() }), "State", NO_STORE),
    },
  }), async (c) => {
    const { id } = c.req.valid("param");
    const name = opName(id);
    if (!name) throw new ApiError("not_found", {}, "operation id malformed");
    const ai = await userGemini(c.get("user").id);
    const { GenerateVideosOperation } = await import("@google/genai");
    const ref = new GenerateVideosOperation();
    ref.name = name;
    const op = await ai.operations.getVideosOperation({ operation: ref }).catch((err) => {
      if (toFailure(err).status === 404) throw new ApiError("not_found", {}, "unknown operation");
      return upstream(err);
    });
    const videos = (op.response?.generatedVideos ?? []).map((v) => ({ uri: v.video?.uri ?? null }));
    return c.json({ operation_id: id, done: !!op.done, videos, failed: !!op.error }, 200);
  });
}
