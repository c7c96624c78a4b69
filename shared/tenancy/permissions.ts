// The role × permission matrix: the one place the API reads it (the seed's twelve message,
// AI, customer and order permissions, plus the tenant-administration ones). Migrations seed
// private.role_permissions from the same data for RLS; tests/tenancy.test.ts checks that both
// agree and writes the whole matrix out literally.
export const ROLES = ["OWNER", "ADMIN", "MANAGER", "OPERATOR"] as const;
export type Role = (typeof ROLES)[number];

export const PERMISSIONS = [
  "messages.read", "messages.write", "messages.delete",
  "ai.view_suggestions", "ai.approve_responses", "ai.configure_agents",
  "customers.read", "customers.write", "customers.export", "customers.erase",
  "orders.read", "orders.create", "orders.confirm",
  "members.read", "members.manage", "whatsapp.connect", "keys.rotate", "audit.read", "webhooks.manage",
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const Y = true, N = false;
//            messages r/w/del  ai view/approve/configure  customers r/w/export/erase  orders r/create/confirm  members r/manage  whatsapp  keys  audit  webhooks
const MATRIX: Record<Role, boolean[]> = {
  OWNER:    [Y, Y, Y,  Y, Y, Y,  Y, Y, Y, Y,  Y, Y, Y,  Y, Y,  Y,  Y,  Y,  Y],
  ADMIN:    [Y, Y, Y,  Y, Y, N,  Y, Y, Y, N,  Y, Y, Y,  Y, Y,  Y,  N,  Y,  Y],
  MANAGER:  [Y, Y, N,  Y, N, N,  Y, Y, N, N,  Y, Y, Y,  Y, N,  N,  N,  N,  N],
  OPERATOR: [Y, Y, N,  Y, N, N,  Y, N, N, N,  Y, N, N,  Y, N,  N,  N,  N,  N],
};

/**
 * Sensitive permissions: they need aal2 when REQUIRE_MFA_FOR_ADMIN_ACTIONS is on, and a token
 * whose session still exists (signed-out or revoked sessions are refused).
 */
export const SENSITIVE_PERMISSIONS: ReadonlySet<Permission> = new Set<Permission>([
  "members.manage", "whatsapp.connect", "keys.rotate", "customers.export", "customers.erase",
]);

export const ROLE_PERMISSIONS: Record<Role, ReadonlySet<Permission>> = Object.fromEntries(
  ROLES.map((r) => [r, new Set(PERMISSIONS.filter((_, i) => MATRIX[r][i]))]),
) as unknown as Record<Role, ReadonlySet<Permission>>;

export function can(role: Role | null | undefined, permission: Permission): boolean {
  return !!role && ROLE_PERMISSIONS[role].has(permission);
}

/**
 * Who may grant, change or remove a membership of `target` role (members.manage is needed
 * first): an OWNER any role, an ADMIN only MANAGER and OPERATOR.
 */
export function canManageRole(actor: Role, target: Role): boolean {
  if (actor === "OWNER") return true;
  if (actor === "ADMIN") return target === "MANAGER" || target === "OPERATOR";
  return false;
}
