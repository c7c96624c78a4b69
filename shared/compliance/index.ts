// Shared by audit-query, privacy and retention-cleanup: keyset pages over (created_at, id),
// the audit filters' time window, the platform-admin rule, the map of tables that hold a
// distributor's customer data and retention floors and ceilings.
import { z } from "@hono/zod-openapi";
import type { AuthUser } from "../auth/index.ts";
import { cursorParam, page } from "../http/cursor.ts";

// Keyset cursors ---------------------------------------------------------------------------
// One cursor module for every list: shared/http/cursor.ts (strict timestamps, opaque base64url).
export { decodeCursor, encodeCursor, type Cursor } from "../http/cursor.ts";

// Audit filters ----------------------------------------------------------------------------
export const MAX_WINDOW_DAYS = 366;
export const DEFAULT_WINDOW_DAYS = 30;
export const MAX_PAGE = 500;

const isoDate = z.iso.datetime({ offset: true });

/** from, to, limit, cursor, format: shared by every audit list. */
export const auditWindowQuery = {
  from: isoDate.optional().openapi({ param: { name: "from", in: "query" }, description: `ISO 8601; default: ${DEFAULT_WINDOW_DAYS} days before \`to\`` }),
  to: isoDate.optional().openapi({ param: { name: "to", in: "query" }, description: `ISO 8601 (exclusive); default: now. \`to - from\` ≤ ${MAX_WINDOW_DAYS} days` }),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(100)
    .openapi({ param: { name: "limit", in: "query" }, description: `Page size, 1..${MAX_PAGE} (default 100; CSV ignores it)` }),
  cursor: cursorParam(),
  format: z.enum(["json", "csv"]).default("json").openapi({ param: { name: "format", in: "query" } }),
};

/** The window [from, to) as ISO strings; null when it is reversed or longer than MAX_WINDOW_DAYS. */
export function auditWindow(q: { from?: string; to?: string }, now: Date): { from: string; to: string } | null {
  const to = q.to ? new Date(q.to) : now;
  const from = q.from ? new Date(q.from) : new Date(to.getTime() - DEFAULT_WINDOW_DAYS * 86_400_000);
  if (!(from.getTime() < to.getTime())) return null;
  if (to.getTime() - from.getTime() > MAX_WINDOW_DAYS * 86_400_000) return null;
  return { from: q.from ?? from.toISOString(), to: q.to ?? to.toISOString() };
}

/** Take `limit` rows of a `limit + 1` fetch, and the cursor of the last one if more exist. */
export function keysetPage<R extends { created_at: string; id: string }>(rows: R[], limit: number) {
  return page(rows, limit, (r) => ({ ts: r.created_at, id: r.id }));
}

// Platform admins --------------------------------------------------------------------------
/**
 * Only claims a user cannot edit: the JWT `role`, app_metadata.role and app_metadata.roles.
 * Never user_metadata (which AuthUser.isAdmin, following the seed, also reads).
 * private.is_platform_admin() applies the same rule in SQL.
 */
export function isPlatformAdmin(user: AuthUser): boolean {
  const app = user.appMetadata ?? {};
  return user.claims.role === "admin" || app.role === "admin" || (Array.isArray(app.roles) && app.roles.includes("admin"));
}

// Customer data ----------------------------------------------------------------------------
export type Subject = "customer" | "conversation" | "message";

/**
 * Every (table, column) of `public` that points at a distributor's customer, one of their
 * conversations or one of their messages: what a privacy export reads and an erasure deletes,
 * leaves first. Entries whose table or column does not exist (yet) are skipped at run time.
 * tests/compliance/customer-data.test.ts enumerates the catalog: a new table with a
 * customer_id, conversation_id or message_id column fails it until it is listed here or in
 * CUSTOMER_DATA_KEPT.
 */
export const CUSTOMER_DATA: readonly { table: string; column: string; refers: Subject }[] = [
  { table: "pii_detection_results", column: "message_id", refers: "message" },
  { table: "ai_responses", column: "message_id", refers: "message" },
  { table: "ai_responses", column: "inbound_message_id", refers: "message" },
  { table: "ai_responses", column: "conversation_id", refers: "conversation" },
  { table: "ai_responses", column: "customer_id", refers: "customer" },
  { table: "ai_usage", column: "message_id", refers: "message" },
  { table: "ai_usage", column: "conversation_id", refers: "conversation" },
  { table: "orders", column: "conversation_id", refers: "conversation" },
  { table: "orders", column: "customer_id", refers: "customer" },
  { table: "messages", column: "conversation_id", refers: "conversation" },
  { table: "conversations", column: "customer_id", refers: "customer" },
  { table: "customers", column: "id", refers: "customer" },
];

/** Tables that keep a customer's id on purpose, and why (documented in docs/compliance.md). */
export const CUSTOMER_DATA_KEPT: Record<string, string> = {
  privacy_requests: "the record of the request itself (ids and counts only)",
  data_access_audit: "the audit trail: ids, actions and counts, never personal data",
};

/** Tables whose jsonb payload may name the customer's ids (events): rows naming them are deleted. */
export const CUSTOMER_PAYLOAD_TABLES: readonly { table: string; column: string }[] = [
  { table: "event_outbox", column: "payload" },
];

// A social-app user's own data ----------------------------------------------------------------
/**
 * Every (table, column) of `public` holding a user's own data of the social-marketing app: what
 * privacy `POST /me/export` reads and `POST /me/erase` deletes (`where`: an extra condition, e.g.
 * only the user-level AI rows). Rate-limit windows whose key names the user are purged too.
 * tests/compliance/user-data.test.ts enumerates every column referring to a user (a foreign key
 * to auth.users or a *user_id / *_by column): a new one fails it until it is listed here or in
 * USER_DATA_KEPT with a reason.
 */
export const USER_DATA: readonly { table: string; column: string; where?: string }[] = [
  { table: "user_secrets", column: "user_id" },
  { table: "oauth_states", column: "user_id" },
  { table: "oauth_connections", column: "user_id" },
  { table: "social_posts", column: "user_id" },
  { table: "support_tickets", column: "user_id" },
  { table: "ai_responses", column: "user_id", where: "distributor_id is null" },
];

/** Columns that keep a user's id on purpose after /me/erase, and why (docs/compliance.md). */
export const USER_DATA_KEPT: Record<string, string> = {
  "public.data_access_audit.user_id": "the audit trail (ids, actions, counts)",
  "public.secret_audit_logs.user_id": "the audit trail of secret operations (never values)",
  "public.security_incidents.user_id": "security records (audit)",
  "public.security_incidents.resolved_by": "security records (audit)",
  "public.privacy_requests.subject_user_id": "the record of the request itself",
  "public.privacy_requests.requested_by": "the record of the request itself",
  "auth.sessions.user_id": "Supabase Auth's: the account is deleted through Auth (auth.admin.deleteUser), not here",
  // What the user did as a distributor's staff member is the distributor's record (it is the
  // controller); its OWNER removes members, and its own retention applies.
  "public.distributor_members.user_id": "a distributor's membership (its OWNER removes it)",
  "public.distributors.created_by": "a distributor's record",
  "public.messages.sent_by": "a distributor's record of who sent a message",
  "public.orders.created_by": "a distributor's record",
  "public.orders.confirmed_by": "a distributor's record",
  "public.ai_responses.approved_by": "a distributor's review record",
  "public.ai_responses.feedback_by": "a distributor's review record",
  "public.ai_agents.updated_by": "a distributor's settings record",
  "public.ai_budget_overrides.updated_by": "a distributor's settings record",
  "public.retention_policies.updated_by": "a distributor's settings record",
  "public.webhook_endpoints.created_by": "a distributor's settings record",
};

// Retention --------------------------------------------------------------------------------
/** Defaults (the seed's) and the bounds an OWNER may choose within, in days. */
export const RETENTION_LIMITS = {
  messages_days: { default: 730, min: 30, max: 3650 },
  ai_responses_days: { default: 365, min: 30, max: 3650 },
  audit_logs_days: { default: 2555, min: 365, max: 3650 },
  pii_detection_results_days: { default: 90, min: 7, max: 3650 },
} as const;

/** Privacy requests pending longer than this make the compliance report non_compliant. */
export const REQUEST_DEADLINE_DAYS = 30;
/** The cleanup must have finished without error within this many hours. */
export const CLEANUP_MAX_AGE_HOURS = 48;
