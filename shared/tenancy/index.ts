// Tenancy: roles and permissions, membership checks, per-distributor keys.
import { ApiError } from "../http/errors.ts";
import type { Tx } from "../db/index.ts";
import type { Role } from "./permissions.ts";
import { createDistributorKeys } from "./keys.ts";
import type { Keyring } from "../crypto/index.ts";

export * from "./permissions.ts";
export * from "./keys.ts";

import { isUuid } from "../uuid/index.ts";

export { isUuid } from "../uuid/index.ts";
export { tenant, TenantScope, DISTRIBUTOR_HEADER, type GateOptions } from "./gate.ts";

/**
 * The caller's role in a distributor, read inside the user's transaction (RLS shows a user only
 * memberships of distributors they belong to). Not a member, or no such distributor → 404, so
 * another tenant's ids reveal nothing.
 */
export async function memberRole(tx: Tx, userId: string, distributorId: string): Promise<Role> {
  if (!isUuid(distributorId)) throw new ApiError("not_found");
  const [row] = await tx<{ role: Role }[]>`
    select role from public.distributor_members where distributor_id = ${distributorId} and user_id = ${userId}`;
  if (!row) throw new ApiError("not_found");
  return row.role;
}

/** Admin actions need aal2 when REQUIRE_MFA_FOR_ADMIN_ACTIONS is on. */
export function requireMfa(user: { aal: string }, required: boolean): void {
  if (required && user.aal !== "aal2") throw new ApiError("mfa_required");
}

/** Create a distributor with its first OWNER and its keys, in the caller's service transaction. */
export async function createDistributor(
  tx: Tx, master: Keyring, o: { name: string; ownerId: string; id?: string },
): Promise<{ id: string; name: string }> {
  const id = o.id ?? crypto.randomUUID();
  await tx`insert into public.distributors (id, name, created_by) values (${id}, ${o.name}, ${o.ownerId})`;
  await tx`insert into public.distributor_members (distributor_id, user_id, role) values (${id}, ${o.ownerId}, 'OWNER')`;
  await createDistributorKeys(tx, master, id);
  return { id, name: o.name };
}
