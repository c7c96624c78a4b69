// The one route style every function uses: the error schema, error responses built from the
// closed catalog, bearer security, and `route()`, a createRoute that fills those in.
//
// Order of checks on every route: 401 (requireUser, route middleware) → 404/403 (the tenant
// gate, route middleware, see shared/tenancy/gate.ts) → 400 (the validators, which
// @hono/zod-openapi runs after a route's middleware) → the handler, reading c.req.valid(...).
import { createRoute, OpenAPIHono, z, type RouteConfig } from "@hono/zod-openapi";
import type { ZodError } from "zod";
import { ApiError, errorCatalog, type ErrorCode, type Issue } from "./errors.ts";
import type { AppEnv } from "./index.ts";

export const IssueSchema = z.object({
  in: z.enum(["body", "query", "path", "header"]),
  path: z.string().openapi({ description: "Dotted path of the field (empty for the whole part)", example: "content" }),
  code: z.string().openapi({ description: "zod's issue code, e.g. too_small, invalid_type", example: "too_small" }),
}).openapi("Issue");

export const ErrorSchema = z.object({
  error: z.string().openapi({ example: "Invalid request" }),
  requestId: z.string(),
  issues: z.array(IssueSchema).optional().openapi({ description: "On 400 only: which fields failed (never their values)" }),
}).openapi("Error");

/** Headers a response may carry; declared once so every route documents them alike. */
export const RESPONSE_HEADERS = {
  "Retry-After": { description: "Seconds to wait before retrying", schema: { type: "integer" as const } },
  "RateLimit-Limit": { description: "Requests allowed in the window", schema: { type: "integer" as const } },
  "RateLimit-Remaining": { description: "Requests left in the window", schema: { type: "integer" as const } },
  "RateLimit-Reset": { description: "Seconds until the window resets", schema: { type: "integer" as const } },
};

/** OpenAPI responses for these error codes, one entry per status (codes sharing a status are merged). */
export function errorResponses(...codes: ErrorCode[]) {
  const byStatus = new Map<number, Set<string>>();
  for (const code of codes) {
    const { status, message } = errorCatalog[code];
    byStatus.set(status, (byStatus.get(status) ?? new Set()).add(message));
  }
  return Object.fromEntries([...byStatus].sort(([a], [b]) => a - b).map(([status, messages]) => [status, {
    description: [...messages].join(" / "),
    content: { "application/json": { schema: ErrorSchema } },
    ...(status === 429 || status === 503 ? { headers: { "Retry-After": RESPONSE_HEADERS["Retry-After"] } } : {}),
  }]));
}

export const json = <S extends z.ZodType>(schema: S, description: string, headers?: Record<string, { description: string; schema: { type: "string" | "integer" | "boolean" } }>) => ({
  description,
  content: { "application/json": { schema } },
  ...(headers ? { headers } : {}),
});

export const jsonBody = <S extends z.ZodType>(schema: S) => ({
  required: true,
  content: { "application/json": { schema } },
});

export const BEARER_SECURITY = [{ bearerAuth: [] as string[] }];

/** A route: createRoute plus a required operationId, bearer security and the standard errors. */
export type RouteSpec = Omit<RouteConfig, "security"> & {
  operationId: string;
  /** Error codes this route answers beyond the standard ones. */
  errors?: readonly ErrorCode[];
  /**
   * false for routes that take no user JWT (webhooks, browser redirects): the operation then
   * declares `security: []`, public in so many words, rather than leaving security unsaid.
   */
  auth?: boolean;
};

export function route<const R extends RouteSpec>(spec: R) {
  const { errors = [], auth = true, ...config } = spec;
  const req = config.request;
  const codes: ErrorCode[] = [];
  if (auth) codes.push("unauthorized");
  if (req?.body || req?.query || req?.params || req?.headers) codes.push("invalid_request");
  if (req?.body) codes.push("payload_too_large");
  codes.push(...errors, "internal", "unavailable");
  return createRoute({
    ...config,
    security: auth ? BEARER_SECURITY : [],
    responses: { ...errorResponses(...codes), ...config.responses },
  } as Omit<R, "errors" | "auth">);
}

const PART: Record<string, Issue["in"]> = { json: "body", form: "body", query: "query", param: "path", header: "header" };

/** zod issues as paths and codes only: never the values, never zod's messages (they can quote input). */
export function issuesOf(error: ZodError, target: string): Issue[] {
  return error.issues.slice(0, 20).map((i) => ({
    in: PART[target] ?? "body",
    path: i.path.map(String).join(".").slice(0, 200),
    code: i.code,
  }));
}

/**
 * An OpenAPI-aware router. A validation failure answers 400 with the failing fields, except a
 * malformed path id, which cannot name anything that exists: 404, like an unknown one.
 */
export function createRouter() {
  const api = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (result.success) return;
      const issues = issuesOf(result.error as ZodError, result.target);
      if (result.target === "param") throw new ApiError("not_found", {}, `path ${issues.map((i) => i.path).join(",")} malformed`);
      throw new ApiError("invalid_request", {}, "validation failed", issues);
    },
  });
  api.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http", scheme: "bearer", bearerFormat: "JWT",
    description: "A Supabase access token (the signed-in user's JWT)",
  });
  return api;
}

export type Router = ReturnType<typeof createRouter>;
