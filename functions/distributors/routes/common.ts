// Shared pieces of the distributors function: schemas for the OpenAPI document, route
// registration, deferred body validation (permission is checked before the body), the admin
// gate (membership → permission → MFA) and the audit helper.
import { z, type RouteConfig } from "@hono/zod-openapi";
import type { Context, Handler, MiddlewareHandler } from "hono";
import { writeDataAccessAudit } from "../../../shared/audit/index.ts";
import type { Tx } from "../../../shared/db/index.ts";
import { ApiError, clientIp, readJson, userAgent, type AppEnv, type Router } from "../../../shared/http/index.ts";
import type { Deps } from "../../../shared/runtime/deps.ts";
import { requireMfa, ROLES, type Role } from "../../../shared/tenancy/index.ts";

export type Ctx = Context<AppEnv>;

export interface RouteDeps {
  deps: Deps;
  api: Router;
  auth: MiddlewareHandler<AppEnv>;
}

// ---------------------------------------------------------------- schemas (request and response)
const noControlChars = (s: string) => !/[\u0000-\u001f\u007f]/.test(s);

export const RoleSchema = z.enum(ROLES).openapi("Role");
export const UuidSchema = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, "must be a UUID");

export const CreateDistributorBody = z.object({
  name: z.string().trim().min(1).max(200).refine(noControlChars, "must not contain control characters"),
}).openapi("CreateDistributor");

export const AddMemberBody = z.object({ user_id: UuidSchema, role: RoleSchema }).openapi("AddMember");
export const ChangeRoleBody = z.object({ role: RoleSchema }).openapi("ChangeRole");

export const ConnectWhatsappBody = z.object({
  // Meta's id of the business phone number: digits only.
  phone_number_id: z.string().regex(/^[0-9]{1,32}$/, "must be 1-32 digits"),
  display_phone_number: z.string().trim().min(1).max(32).regex(/^[0-9+()\-. ]+$/, "must be a phone number"),
  // A Graph API access token: printable ASCII without spaces.
  access_token: z.string().min(1).max(4096).regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces"),
}).openapi("ConnectWhatsapp");

export const ErrorBody = z.object({ error: z.string(), requestId: z.string() }).openapi("Error");
export const DistributorSchema = z.object({ id: z.string().uuid(), name: z.string(), role: RoleSchema }).openapi("Distributor");
export const MemberSchema = z.object({ user_id: z.string().uuid(), role: RoleSchema, created_at: z.string() }).openapi("Member");
export const MembershipSchema = MemberSchema.extend({ distributor_id: z.string().uuid() }).openapi("Membership");
export const RemovedSchema = z.object({ distributor_id: z.string().uuid(), user_id: z.string().uuid(), removed: z.literal(true) })
  .openapi("MemberRemoved");
export const WhatsappAccountSchema = z.object({ id: z.string().uuid(), phone_number_id: z.string(), display_phone_number: z.string() })
  .openapi("WhatsappAccount");
export const KeyVersionSchema = z.object({ version: z.number().int() }).openapi("KeyVersion");

export const IdParams = z.object({ id: UuidSchema.openapi({ param: { name: "id", in: "path" }, description: "Distributor id" }) });
export const MemberParams = IdParams.extend({
  userId: UuidSchema.openapi({ param: { name: "userId", in: "path" }, description: "The member's user id" }),
});

const errorDescriptions: Record<number, string> = {
  400: "Invalid request (body)",
  401: "Authentication required",
  403: "Forbidden, or multi-factor authentication required",
  404: "Not found (unknown distributor, not a member, or unknown user)",
  409: "Conflict",
  429: "Too many requests",
  500: "Server error",
};

export function errorResponses(...statuses: number[]) {
  return Object.fromEntries(
    [401, ...statuses, 500].map((s) => [s, { description: errorDescriptions[s], content: { "application/json": { schema: ErrorBody } } }]),
  );
}

export const json = <S extends z.ZodType>(schema: S, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

export const jsonBody = <S extends z.ZodType>(schema: S) => ({
  required: true,
  content: { "application/json": { schema } },
});

/**
 * Document a route in the OpenAPI registry and serve it with our own handler. Request parts
 * are validated inside the handler, after the permission check (so a caller without
 * permission learns nothing about the body format, and a malformed id is simply not found).
 */
export function define(api: Router, route: RouteConfig, auth: MiddlewareHandler<AppEnv>, handler: Handler<AppEnv>): void {
  api.openAPIRegistry.registerPath(route);
  api.on(route.method.toUpperCase(), route.path.replaceAll(/\/{(.+?)}/g, "/:$1"), auth, handler);
}

/**
 * Read and parse the body now (before any transaction), validate it later: the returned
 * function throws 400 when called, so handlers call it after membership, permission and MFA.
 */
export async function deferBody<S extends z.ZodType>(c: Ctx, schema: S): Promise<() => z.infer<S>> {
  let raw: unknown;
  let readable = true;
  try {
    raw = await readJson(c);
  } catch (err) {
    if (!(err instanceof ApiError) || err.code !== "invalid_request") throw err;
    readable = false;
  }
  const result = readable ? schema.safeParse(raw) : null;
  return () => {
    if (!result?.success) throw new ApiError("invalid_request", {}, "body validation failed");
    return result.data as z.infer<S>;
  };
}

/** Roles allowed to run a distributor-wide admin action. */
export const ADMIN_ROLES: readonly Role[] = ["OWNER", "ADMIN"];

/**
 * The order every admin action checks in: not a member → 404, role not allowed → 403, then
 * aal2 when REQUIRE_MFA_FOR_ADMIN_ACTIONS is on → 403 mfa_required.
 */
export function adminGate(c: Ctx, deps: Deps, role: Role | undefined, allowed: readonly Role[]): Role {
  if (!role) throw new ApiError("not_found");
  if (!allowed.includes(role)) throw new ApiError("forbidden", {}, `role ${role} may not do this`);
  requireMfa(c.get("user"), deps.config.REQUIRE_MFA_FOR_ADMIN_ACTIONS);
  return role;
}

/** One data_access_audit row in the operation's transaction: ids and roles only. */
export function audit(
  c: Ctx, tx: Tx, distributorId: string, action: string, table: string, recordId: string | null, details: Record<string, unknown>,
) {
  return writeDataAccessAudit(tx, {
    distributorId,
    userId: c.get("user").id,
    action,
    tableName: table,
    recordId,
    ip: clientIp(c),
    userAgent: userAgent(c),
    details,
  });
}

/**
 * Await statements sent together on one connection (pipelined). If one fails, the later
 * ones fail only because the transaction is aborted (25P02), so report the first failure in
 * the order given, not whichever rejection happened to settle first.
 */
export async function inOrder<T extends readonly unknown[]>(ps: { readonly [K in keyof T]: PromiseLike<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(ps as readonly PromiseLike<unknown>[]);
  for (const s of settled) if (s.status === "rejected") throw s.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/** The SQLSTATE of a postgres.js error, if any. */
export function pgCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

export const iso = (d: Date | string) => (d instanceof Date ? d.toISOString() : new Date(d).toISOString());
