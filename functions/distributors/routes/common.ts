// What the distributors routes share beyond shared/http and shared/tenancy: their request and
// response schemas, the tenant gate on the {id} path parameter, and small helpers.
import { z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { AppEnv, Router } from "../../../shared/http/index.ts";
import type { Deps } from "../../../shared/runtime/deps.ts";
import { ROLES, tenant, type Permission } from "../../../shared/tenancy/index.ts";
import { text } from "../../../shared/schemas/index.ts";

export interface RouteDeps {
  deps: Deps;
  api: Router;
  auth: MiddlewareHandler<AppEnv>;
}

/**
 * The tenant gate for routes under /{id}: not a member (or unknown, malformed id) → 404, role
 * lacks `permission` → 403, sensitive permission without aal2 → 403 mfa_required; all before
 * the body is judged (see shared/tenancy/gate.ts).
 */
export const gate = (deps: Deps, permission: Permission) => tenant(deps, permission, { from: { param: "id" } });

// ---------------------------------------------------------------- schemas (request and response)
const noControlChars = (s: string) => !/[\u0000-\u001f\u007f]/.test(s);

export const RoleSchema = z.enum(ROLES).openapi("Role");
const Timestamp = z.string().openapi({ format: "date-time", description: "ISO 8601, UTC, milliseconds", example: "2026-01-31T09:30:00.000Z" });

export const CreateDistributorBody = z.object({
  name: text().trim().min(1).max(200).refine(noControlChars, "must not contain control characters"),
}).openapi("CreateDistributor");

export const AddMemberBody = z.object({ user_id: z.string().uuid(), role: RoleSchema }).openapi("AddMember");
export const ChangeRoleBody = z.object({ role: RoleSchema }).openapi("ChangeRole");

export const ConnectWhatsappBody = z.object({
  // Meta's id of the business phone number: digits only.
  phone_number_id: z.string().regex(/^[0-9]{1,32}$/, "must be 1-32 digits"),
  display_phone_number: z.string().trim().min(1).max(32).regex(/^[0-9+()\-. ]+$/, "must be a phone number"),
  // A Graph API access token: printable ASCII without spaces.
  access_token: z.string().min(1).max(4096).regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces"),
}).openapi("ConnectWhatsapp");

export const DistributorSchema = z.object({ id: z.string().uuid(), name: z.string(), role: RoleSchema }).openapi("Distributor");
export const MemberSchema = z.object({ user_id: z.string().uuid(), role: RoleSchema, created_at: Timestamp }).openapi("Member");
export const MembershipSchema = MemberSchema.extend({ distributor_id: z.string().uuid() }).openapi("Membership");
export const RemovedSchema = z.object({ distributor_id: z.string().uuid(), user_id: z.string().uuid(), removed: z.literal(true) })
  .openapi("MemberRemoved");
export const WhatsappAccountSchema = z.object({ id: z.string().uuid(), phone_number_id: z.string(), display_phone_number: z.string() })
  .openapi("WhatsappAccount");
export const KeyVersionSchema = z.object({ version: z.number().int() }).openapi("KeyVersion");

export const IdParams = z.object({
  id: z.string().uuid().openapi({ param: { name: "id", in: "path" }, description: "Distributor id" }),
});
export const MemberParams = IdParams.extend({
  userId: z.string().uuid().openapi({ param: { name: "userId", in: "path" }, description: "The member's user id" }),
});

// ---------------------------------------------------------------- helpers
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

/** Timestamps in responses: ISO 8601 UTC with milliseconds and Z. */
export { toIso as iso } from "../../../shared/schemas/index.ts";
