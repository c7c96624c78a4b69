// Members of a distributor: list (members.read), add, change role, remove (members.manage, plus
// the OWNER/ADMIN rule of canManageRole on the target role).
//
// Writes run in ONE service transaction whose gate first locks the rows that decide the outcome
// (the caller's membership, the target's, and every OWNER's) in a fixed order, so the caller's
// role cannot change under us and two concurrent demotions cannot both pass the "last OWNER"
// check. The service bypasses RLS, so every query names the distributor and user.
import { z } from "@hono/zod-openapi";
import type { Tx } from "../../../shared/db/index.ts";
import { ApiError, json, jsonBody, route } from "../../../shared/http/index.ts";
import { canManageRole, type Role, type TenantScope } from "../../../shared/tenancy/index.ts";
import {
  AddMemberBody, ChangeRoleBody, gate, IdParams, inOrder, iso, MemberParams, MemberSchema, MembershipSchema, RemovedSchema,
  type RouteDeps,
} from "./common.ts";

interface MemberRow {
  user_id: string;
  role: Role;
  created_at: Date;
}

interface Locked {
  caller?: Role;
  target?: MemberRow;
  owners: number;
}

/** Lock (for update, ordered by user id) the caller's and target's memberships and all OWNERs. */
async function lockMembers(tx: Tx, distributorId: string, callerId: string, targetId?: string): Promise<Locked> {
  const caller = callerId.toLowerCase();
  const target = targetId?.toLowerCase();
  const ids = target && target !== caller ? [caller, target] : [caller];
  const rows = await tx<MemberRow[]>`
    select user_id, role, created_at from public.distributor_members
    where distributor_id = ${distributorId} and (user_id = any(${ids}::uuid[]) or role = 'OWNER')
    order by user_id
    for update`;
  return {
    caller: rows.find((r) => r.user_id === caller)?.role,
    target: target ? rows.find((r) => r.user_id === target) : undefined,
    owners: rows.filter((r) => r.role === "OWNER").length,
  };
}

/**
 * A service transaction whose gate is lockMembers: the caller's role is judged (membership,
 * members.manage, MFA, session) on the locked row before `fn` runs with the locked rows.
 */
function withLockedMembers<T>(
  t: TenantScope, targetId: string | undefined, fn: (tx: Tx, caller: Role, locked: Locked) => Promise<T>,
): Promise<T> {
  let locked: Locked = { owners: 0 };
  return t.serviceTransaction(
    (tx) => fn(tx, locked.caller as Role, locked),
    async (tx) => (locked = await lockMembers(tx, t.id, t.user.id, targetId)).caller,
  );
}

const AUDIT_TABLE = "distributor_members";
const WRITE_ERRORS = ["not_found", "forbidden", "mfa_required", "conflict"] as const;

export function memberRoutes({ deps, api, auth }: RouteDeps) {
  api.openapi(
    route({
      method: "get", path: "/{id}/members", operationId: "listMembers",
      middleware: [auth, gate(deps, "members.read")] as const,
      summary: "Members of a distributor (members.read: every role)",
      request: { params: IdParams },
      errors: ["not_found", "forbidden"],
      responses: { 200: json(z.object({ members: z.array(MemberSchema) }), "Members") },
    }),
    async (c) => {
      const t = c.get("tenant");
      // One round trip: the gate's membership read and the list (RLS shows it to members only).
      const rows = await t.transaction((tx) =>
        tx<MemberRow[]>`select user_id, role, created_at from public.distributor_members
                        where distributor_id = ${t.id} order by created_at, user_id`
      );
      return c.json({ members: rows.map((r) => ({ user_id: r.user_id, role: r.role, created_at: iso(r.created_at) })) }, 200);
    },
  );

  api.openapi(
    route({
      method: "post", path: "/{id}/members", operationId: "addMember",
      middleware: [auth, gate(deps, "members.manage")] as const,
      summary: "Add a member (members.manage; only an OWNER grants OWNER or ADMIN; needs aal2)",
      request: { params: IdParams, body: jsonBody(AddMemberBody) },
      errors: WRITE_ERRORS,
      responses: { 201: json(MembershipSchema, "Added") },
    }),
    async (c) => {
      const { user_id, role } = c.req.valid("json");
      const t = c.get("tenant");
      const target = user_id.toLowerCase();
      const member = await withLockedMembers(t, undefined, async (tx, caller) => {
        if (!canManageRole(caller, role)) throw new ApiError("forbidden", {}, `${caller} may not grant ${role}`);
        const [[row]] = await inOrder([
          tx<{ user_exists: boolean; created_at: Date | null }[]>`
            with u as (select id from auth.users where id = ${target}),
            ins as (
              insert into public.distributor_members (distributor_id, user_id, role)
              select ${t.id}, u.id, ${role} from u
              on conflict (distributor_id, user_id) do nothing
              returning created_at)
            select exists(select 1 from u) as user_exists, (select created_at from ins) as created_at`,
          // Rolled back with the insert when it does not happen.
          t.audit(tx, "member.add", AUDIT_TABLE, target, { user_id: target, role }),
        ]);
        if (!row.user_exists) throw new ApiError("not_found", {}, "no such user");
        if (!row.created_at) throw new ApiError("conflict", {}, "already a member");
        return { distributor_id: t.id, user_id: target, role, created_at: iso(row.created_at) };
      });
      return c.json(member, 201);
    },
  );

  api.openapi(
    route({
      method: "patch", path: "/{id}/members/{userId}", operationId: "changeMemberRole",
      middleware: [auth, gate(deps, "members.manage")] as const,
      summary: "Change a member's role (members.manage; the last OWNER cannot be demoted; needs aal2)",
      request: { params: MemberParams, body: jsonBody(ChangeRoleBody) },
      errors: WRITE_ERRORS,
      responses: { 200: json(MembershipSchema, "Changed") },
    }),
    async (c) => {
      const { userId } = c.req.valid("param");
      const { role } = c.req.valid("json");
      const t = c.get("tenant");
      const member = await withLockedMembers(t, userId, async (tx, caller, locked) => {
        const current = locked.target;
        if (!current) throw new ApiError("not_found", {}, "not a member");
        if (!canManageRole(caller, current.role) || !canManageRole(caller, role)) {
          throw new ApiError("forbidden", {}, `${caller} may not change ${current.role} to ${role}`);
        }
        const result = { distributor_id: t.id, user_id: current.user_id, role, created_at: iso(current.created_at) };
        if (current.role === role) return result; // nothing changes, nothing to audit
        if (current.role === "OWNER" && locked.owners <= 1) throw new ApiError("conflict", {}, "last owner");
        await inOrder([
          tx`update public.distributor_members set role = ${role}, updated_at = now()
             where distributor_id = ${t.id} and user_id = ${current.user_id}`,
          t.audit(tx, "member.role_change", AUDIT_TABLE, current.user_id, { user_id: current.user_id, from: current.role, to: role }),
        ]);
        return result;
      });
      return c.json(member, 200);
    },
  );

  api.openapi(
    route({
      method: "delete", path: "/{id}/members/{userId}", operationId: "removeMember",
      middleware: [auth, gate(deps, "members.manage")] as const,
      summary: "Remove a member (members.manage; the last OWNER cannot be removed; needs aal2)",
      request: { params: MemberParams },
      errors: WRITE_ERRORS,
      responses: { 200: json(RemovedSchema, "Removed") },
    }),
    async (c) => {
      const { userId } = c.req.valid("param");
      const t = c.get("tenant");
      const removed = await withLockedMembers(t, userId, async (tx, caller, locked) => {
        const current = locked.target;
        if (!current) throw new ApiError("not_found", {}, "not a member");
        if (!canManageRole(caller, current.role)) throw new ApiError("forbidden", {}, `${caller} may not remove ${current.role}`);
        if (current.role === "OWNER" && locked.owners <= 1) throw new ApiError("conflict", {}, "last owner");
        await inOrder([
          tx`delete from public.distributor_members where distributor_id = ${t.id} and user_id = ${current.user_id}`,
          t.audit(tx, "member.remove", AUDIT_TABLE, current.user_id, { user_id: current.user_id, role: current.role }),
        ]);
        return { distributor_id: t.id, user_id: current.user_id, removed: true as const };
      });
      return c.json(removed, 200);
    },
  );
}
