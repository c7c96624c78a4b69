import { describe, expect, it } from "vitest";
import { PERMISSIONS, ROLES, SENSITIVE_PERMISSIONS, can, canManageRole } from "../shared/tenancy/index.ts";
import { openMessageContent, sealMessageContent, phoneLookupHash } from "../shared/messaging/index.ts";
import { rotateDataKey, DistributorKeyCache } from "../shared/tenancy/keys.ts";
import { test } from "./support/fixtures.ts";

describe("permission matrix", () => {
  // Written out literally, role by role, so a change to the matrix has to change this test too.
  const EXPECTED: Record<string, string[]> = {
    OWNER: [
      "messages.read", "messages.write", "messages.delete", "ai.view_suggestions", "ai.approve_responses", "ai.configure_agents",
      "customers.read", "customers.write", "customers.export", "customers.erase", "orders.read", "orders.create", "orders.confirm",
      "members.read", "members.manage", "whatsapp.connect", "keys.rotate", "audit.read", "webhooks.manage",
    ],
    ADMIN: [
      "messages.read", "messages.write", "messages.delete", "ai.view_suggestions", "ai.approve_responses",
      "customers.read", "customers.write", "customers.export", "orders.read", "orders.create", "orders.confirm",
      "members.read", "members.manage", "whatsapp.connect", "audit.read", "webhooks.manage",
    ],
    MANAGER: [
      "messages.read", "messages.write", "ai.view_suggestions", "customers.read", "customers.write",
      "orders.read", "orders.create", "orders.confirm", "members.read",
    ],
    OPERATOR: ["messages.read", "messages.write", "ai.view_suggestions", "customers.read", "orders.read", "members.read"],
  };

  it("is written out here, every role × every permission", () => {
    expect([...ROLES]).toEqual(["OWNER", "ADMIN", "MANAGER", "OPERATOR"]);
    expect(PERMISSIONS.length).toBe(19);
    for (const role of ROLES) {
      for (const permission of PERMISSIONS) {
        expect([role, permission, can(role, permission)]).toEqual([role, permission, EXPECTED[role].includes(permission)]);
      }
    }
    expect([...SENSITIVE_PERMISSIONS].sort()).toEqual(["customers.erase", "customers.export", "keys.rotate", "members.manage", "whatsapp.connect"]);
  });

  it("lets an OWNER manage every role and an ADMIN only MANAGER and OPERATOR", () => {
    const grid = ROLES.map((actor) => ROLES.map((target) => canManageRole(actor, target)));
    expect(grid).toEqual([
      /* OWNER */ [true, true, true, true],
      /* ADMIN */ [false, false, true, true],
      /* MANAGER */ [false, false, false, false],
      /* OPERATOR */ [false, false, false, false],
    ]);
  });

  test("is the same data in private.role_permissions (used by RLS)", async ({ sql }) => {
    const rows = await sql`select role, permission from private.role_permissions`;
    const fromDb = new Set(rows.map((r) => `${r.role}:${r.permission}`));
    const fromTs = new Set(ROLES.flatMap((r) => PERMISSIONS.filter((p) => can(r, p)).map((p) => `${r}:${p}`)));
    expect(fromDb).toEqual(fromTs);
  });
});

describe("distributor keys", () => {
  test("seals message content per row and keeps old versions readable after rotation", async ({ deps, sql, tenant: t }) => {
    const keys = await deps.tenantKeys.get(t.id);
    const id = crypto.randomUUID();
    const sealed = await sealMessageContent(keys, id, { text: "call me on +44 7700 900123" });
    expect(sealed.key_version).toBe(1);
    expect(await openMessageContent(keys, id, sealed)).toEqual({ text: "call me on +44 7700 900123" });
    await expect(openMessageContent(keys, crypto.randomUUID(), sealed)).rejects.toThrow();

    const v = await deps.db.withService((tx) => rotateDataKey(tx, deps.keyring, t.id));
    expect(v).toBe(2);
    const fresh = new DistributorKeyCache(deps.db.sql, deps.keyring);
    const k2 = await fresh.get(t.id);
    expect(k2.data.currentVersion).toBe(2);
    expect(await openMessageContent(k2, id, sealed)).toEqual({ text: "call me on +44 7700 900123" });
    const newer = await sealMessageContent(k2, id, { text: "x" });
    expect(newer.key_version).toBe(2);
    // the lookup key is stable across data-key rotation
    expect(await phoneLookupHash(k2, "+44 7700 900123")).toBe(await phoneLookupHash(keys, "447700900123"));
    const [{ n }] = await sql`select count(*)::int as n from public.encryption_keys where distributor_id = ${t.id} and status = 'active'`;
    expect(n).toBe(2); // one data, one lookup
  });

  test("stores keys only wrapped", async ({ deps, sql, tenant: t }) => {
    const rows = await sql`select wrapped_key, master_key_version from public.encryption_keys where distributor_id = ${t.id}`;
    expect(rows).toHaveLength(2);
    for (const r of rows) {
      expect(Buffer.from(r.wrapped_key, "base64").length).toBe(44 + 16); // base64 of 32 bytes, plus the GCM tag
      expect(r.master_key_version).toBe(1);
    }
  });
});
