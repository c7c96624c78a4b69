// Members of a distributor: list (any member), add, change role, remove (admin actions).
//
// Writes run in ONE service transaction that first locks the rows that decide the outcome
// (the caller's membership, the target's, and every OWNER's) in a fixed order, so the
// caller's role cannot change under us and two concurrent demotions cannot both pass the
// "last OWNER" check. The service bypasses RLS, so every query names the distributor and user.
import { createRoute, z } from "@hono/zod-openapi";
import type { Tx } from "../../../shared/db/index.ts";
import { ApiError } from "../../../shared/http/index.ts";
import { canManageRole, isUuid, memberRole, type Role } from "../../../shared/tenancy/index.ts";
import {
  AddMemberBody, ADMIN_ROLES, adminGate, audit, ChangeRoleBody, deferBody, define, errorResponses, IdParams, iso, json,
  jsonBody, MemberParams, MemberSchema, MembershipSchema, RemovedSchema, inOrder, type RouteDeps,
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

const AUDIT_TABLE = "distributor_members";

export function memberRoutes({ deps, api, auth }: RouteDeps) {
  const { db } = deps;

  define(api, createRoute({
    method: "get", path: "/{id}/members",
    summary: "Members of a distributor (any member may list them)",
    request: { params: IdParams },
    responses: { 200: json(z.object({ members: z.array(MemberSchema) }), "Members"), ...errorResponses(404) },
  }), auth, async (c) => {
    const id = c.req.param("id");
    const user = c.get("user");
    if (!isUuid(id)) throw new ApiError("not_found");
    const rows = await db.withUser(user, async (tx) => {
      // One round trip: the membership check and the list (RLS shows it to members only).
      const [, members] = await inOrder([
        memberRole(tx, user.id, id),
        tx<MemberRow[]>`select user_id, role, created_at from public.distributor_members
                        where distributor_id = ${id} order by created_at, user_id`,
      ]);
      return members;
    });
    return c.json({ members: rows.map((r) => ({ user_id: r.user_id, role: r.role, created_at: iso(r.created_at) })) }, 200);
  });

  define(api, createRoute({
    method: "post", path: "/{id}/members",
    summary: "Add a member (OWNER/ADMIN; only an OWNER grants OWNER or ADMIN; needs aal2)",
    request: { params: IdParams, body: jsonBody(AddMemberBody) },
    responses: { 201: json(MembershipSchema, "Added"), ...errorResponses(400, 403, 404, 409) },
  }), auth, async (c) => {
    const id = c.req.param("id");
    const body = await deferBody(c, AddMemberBody);
    if (!isUuid(id)) throw new ApiError("not_found");
    const member = await db.withService(async (tx) => {
      const locked = await lockMembers(tx, id, c.get("user").id);
      const caller = adminGate(c, deps, locked.caller, ADMIN_ROLES);
      const { user_id, role } = body();
      const target = user_id.toLowerCase();
      if (!canManageRole(caller, role)) throw new ApiError("forbidden", {}, `${caller} may not grant ${role}`);
      const [[row]] = await inOrder([
        tx<{ user_exists: boolean; created_at: Date | null }[]>`
          with u as (select id from auth.users where id = ${target}),
          ins as (
            insert into public.distributor_members (distributor_id, user_id, role)
            select ${id}, u.id, ${role} from u
            on conflict (distributor_id, user_id) do nothing
            returning created_at)
          select exists(select 1 from u) as user_exists, (select created_at from ins) as created_at`,
        // Rolled back with the insert when it does not happen.
        audit(c, tx, id, "member.add", AUDIT_TABLE, target, { user_id: target, role }),
      ]);
      if (!row.user_exists) throw new ApiError("not_found", {}, "no such user");
      if (!row.created_at) throw new ApiError("conflict", {}, "already a member");
      return { distributor_id: id, user_id: target, role, created_at: iso(row.created_at) };
    });
    return c.json(member, 201);
  });

  define(api, createRoute({
    method: "patch", path: "/{id}/members/{userId}",
    summary: "Change a member's role (the last OWNER cannot be demoted; needs aal2)",
    request: { params: MemberParams, body: jsonBody(ChangeRoleBody) },
    responses: { 200: json(MembershipSchema, "Changed"), ...errorResponses(400, 403, 404, 409) },
  }), auth, async (c) => {
    const { id, userId } = c.req.param();
    const body = await deferBody(c, ChangeRoleBody);
    if (!isUuid(id)) throw new ApiError("not_found");
    const member = await db.withService(async (tx) => {
      const locked = await lockMembers(tx, id, c.get("user").id, isUuid(userId) ? userId : undefined);
      const caller = adminGate(c, deps, locked.caller, ADMIN_ROLES);
      const { role } = body();
      const current = locked.target;
      if (!current) throw new ApiError("not_found", {}, "not a member");
      if (!canManageRole(caller, current.role) || !canManageRole(caller, role)) {
        throw new ApiError("forbidden", {}, `${caller} may not change ${current.role} to ${role}`);
      }
      const result = { distributor_id: id, user_id: current.user_id, role, created_at: iso(current.created_at) };
      if (current.role === role) return result; // nothing changes, nothing to audit
      if (current.role === "OWNER" && locked.owners <= 1) throw new ApiError("conflict", {}, "last owner");
      await inOrder([
        tx`update public.distributor_members set role = ${role}, updated_at = now()
           where distributor_id = ${id} and user_id = ${current.user_id}`,
        audit(c, tx, id, "member.role_change", AUDIT_TABLE, current.user_id, { user_id: current.user_id, from: current.role, to: role }),
      ]);
      return result;
    });
    return c.json(member, 200);
  });

  define(api, createRoute({
    method: "delete", path: "/{id}/members/{userId}",
    summary: "Remove a member (the last OWNER cannot be removed; needs aal2)",
    request: { params: MemberParams },
    responses: { 200: json(RemovedSchema, "Removed"), ...errorResponses(403, 404, 409) },
  }), auth, async (c) => {
    const { id, userId } = c.req.param();
    if (!isUuid(id)) throw new ApiError("not_found");
    const removed = await db.withService(async (tx) => {
      const locked = await lockMembers(tx, id, c.get("user").id, isUuid(userId) ? userId : undefined);
      const caller = adminGate(c, deps, locked.caller, ADMIN_ROLES);
      const current = locked.target;
      if (!current) throw new ApiError("not_found", {}, "not a member");
      if (!canManageRole(caller, current.role)) throw new ApiError("forbidden", {}, `${caller} may not remove ${current.role}`);
      if (current.role === "OWNER" && locked.owners <= 1) throw new ApiError("conflict", {}, "last owner");
      await inOrder([
        tx`delete from public.distributor_members where distributor_id = ${id} and user_id = ${current.user_id}`,
        audit(c, tx, id, "member.remove", AUDIT_TABLE, current.user_id, { user_id: current.user_id, role: current.role }),
      ]);
      return { distributor_id: id, user_id: current.user_id, removed: true as const };
    });
    return c.json(removed, 200);
  });
}
