// Tenant fixtures: a distributor with one user per role, plus an outsider.
import type postgres from "postgres";
import type { Deps } from "../../shared/runtime/deps.ts";
import { createDistributor, ROLES, type Role } from "../../shared/tenancy/index.ts";
import { newUser } from "./harness.ts";
import { sealAccessToken } from "../../shared/messaging/index.ts";

export interface TestUser { id: string; token: string; mfaToken: string }
export interface Tenant {
  id: string;
  name: string;
  users: Record<Role, TestUser>;
}

export async function userWithMfa(sql: postgres.Sql): Promise<TestUser> {
  const u = await newUser(sql);
  const mfa = await newUser(sql, { sub: u.id, aal: "aal2" });
  return { id: u.id, token: u.token, mfaToken: mfa.token };
}

/** A distributor whose OWNER, ADMIN, MANAGER and OPERATOR are fresh users (arranged as the service). */
export async function createTenant(deps: Deps, sql: postgres.Sql, name = "Acme Distribution"): Promise<Tenant> {
  const users = {} as Record<Role, TestUser>;
  for (const r of ROLES) users[r] = await userWithMfa(sql);
  const d = await deps.db.withService((tx) => createDistributor(tx, deps.keyring, { name, ownerId: users.OWNER.id }));
  for (const r of ROLES.filter((r) => r !== "OWNER")) {
    await sql`insert into public.distributor_members (distributor_id, user_id, role) values (${d.id}, ${users[r].id}, ${r})`;
  }
  return { id: d.id, name, users };
}

/** Connect a WhatsApp number to a distributor (arranged as the service, token sealed). */
export async function connectWhatsapp(deps: Deps, sql: postgres.Sql, distributorId: string, phoneNumberId: string): Promise<string> {
  const keys = await deps.tenantKeys.get(distributorId);
  const accountId = crypto.randomUUID();
  const tok = await sealAccessToken(keys, accountId, "EAAG-test-token");
  await sql`insert into public.whatsapp_accounts (id, distributor_id, phone_number_id, display_phone_number, access_token_encrypted, access_token_iv, key_version)
            values (${accountId}, ${distributorId}, ${phoneNumberId}, '+1 555 000 1111', ${tok.encryptedValue}, ${tok.iv}, ${tok.keyVersion})`;
  return accountId;
}
