// The seed's role × permission matrix: the one place the API and the tests read it.
// migrations/…_messaging.sql seeds private.role_permissions from the same data for RLS;
// tests/tenancy-permissions.test.ts checks that both agree.
export const ROLES = ["OWNER", "ADMIN", "MANAGER", "OPERATOR"] as const;
export type Role = (typeof ROLES)[number];

export const PERMISSIONS = [
  "messages.read", "messages.write", "messages.delete",
  "ai.view_suggestions", "ai.approve_responses", "ai.configure_agents",
  "customers.read", "customers.write", "customers.export",
  "orders.read", "orders.create", "orders.confirm",
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const Y = true, N = false;
//                       messages r/w/del   ai view/approve/configure   customers r/w/export   orders r/create/confirm
const MATRIX: Record<Role, boolean[]> = {
  OWNER:    [Y, Y, Y,  Y, Y, Y,  Y, Y, Y,  Y, Y, Y],
  ADMIN:    [Y, Y, Y,  Y, Y, N,  Y, Y, Y,  Y, Y, Y],
  MANAGER:  [Y, Y, N,  Y, N, N,  Y, Y, N,  Y, Y, Y],
  OPERATOR: [Y, Y, N,  Y, N, N,  Y, N, N,  Y, N, N],
};

export const ROLE_PERMISSIONS: Record<Role, ReadonlySet<Permission>> = Object.fromEntries(
  ROLES.map((r) => [r, new Set(PERMISSIONS.filter((_, i) => MATRIX[r][i]))]),
) as unknown as Record<Role, ReadonlySet<Permission>>;

export function can(role: Role | null | undefined, permission: Permission): boolean {
  return !!role && ROLE_PERMISSIONS[role].has(permission);
}

/** Who may grant, change or remove a membership of `target` role. */
export function canManageRole(actor: Role, target: Role): boolean {
  if (actor === "OWNER") return true;
  if (actor === "ADMIN") return target === "MANAGER" || target === "OPERATOR";
  return false;
}
