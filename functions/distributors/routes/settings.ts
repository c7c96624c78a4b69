// Distributor settings: connect a WhatsApp number (OWNER/ADMIN) and rotate the data key (OWNER).
import { createRoute } from "@hono/zod-openapi";
import type { Tx } from "../../../shared/db/index.ts";
import { ApiError } from "../../../shared/http/index.ts";
import { sealAccessToken } from "../../../shared/messaging/index.ts";
import { isUuid, rotateDataKey, type Role } from "../../../shared/tenancy/index.ts";
import {
  ADMIN_ROLES, adminGate, audit, ConnectWhatsappBody, deferBody, define, errorResponses, IdParams, json, jsonBody,
  KeyVersionSchema, WhatsappAccountSchema, inOrder, type RouteDeps,
} from "./common.ts";

/** The caller's role, read explicitly (the service bypasses RLS) and held for the transaction. */
async function callerRole(tx: Tx, distributorId: string, userId: string): Promise<Role | undefined> {
  const [row] = await tx<{ role: Role }[]>`
    select role from public.distributor_members
    where distributor_id = ${distributorId} and user_id = ${userId}
    for share`;
  return row?.role;
}

export function settingsRoutes({ deps, api, auth }: RouteDeps) {
  const { db, keyring } = deps;

  define(api, createRoute({
    method: "post", path: "/{id}/whatsapp",
    summary: "Connect a WhatsApp Business phone number (OWNER/ADMIN; needs aal2); the token is stored encrypted",
    request: { params: IdParams, body: jsonBody(ConnectWhatsappBody) },
    responses: { 201: json(WhatsappAccountSchema, "Connected"), ...errorResponses(400, 403, 404, 409) },
  }), auth, async (c) => {
    const id = c.req.param("id");
    const body = await deferBody(c, ConnectWhatsappBody);
    if (!isUuid(id)) throw new ApiError("not_found");
    const account = await db.withService(async (tx) => {
      adminGate(c, deps, await callerRole(tx, id, c.get("user").id), ADMIN_ROLES);
      // Read on this transaction's connection (usually a cache hit), never a second one.
      const keys = deps.tenantKeys.get(id, tx);
      const { phone_number_id, display_phone_number, access_token } = body();
      const accountId = crypto.randomUUID();
      // Sealed under the distributor's current data key, bound to this row (AAD whatsapp_accounts:<id>).
      const sealed = await sealAccessToken(await keys, accountId, access_token);
      const [[row]] = await inOrder([
        tx<{ id: string }[]>`
          insert into public.whatsapp_accounts
            (id, distributor_id, phone_number_id, display_phone_number, access_token_encrypted, access_token_iv, key_version)
          values (${accountId}, ${id}, ${phone_number_id}, ${display_phone_number}, ${sealed.encryptedValue}, ${sealed.iv}, ${sealed.keyVersion})
          on conflict (phone_number_id) do nothing
          returning id`,
        audit(c, tx, id, "whatsapp.connect", "whatsapp_accounts", accountId, { account_id: accountId, phone_number_id }),
      ]);
      // Taken, here or by another distributor: the same answer either way.
      if (!row) throw new ApiError("conflict", {}, "phone_number_id already connected");
      return { id: accountId, phone_number_id, display_phone_number };
    });
    deps.logger.info("whatsapp.connected", { requestId: c.get("requestId"), distributorId: id, accountId: account.id });
    return c.json(account, 201);
  });

  define(api, createRoute({
    method: "post", path: "/{id}/rotate-key",
    summary: "Rotate the distributor's data key (OWNER; needs aal2); older versions stay readable",
    request: { params: IdParams },
    responses: { 200: json(KeyVersionSchema, "The new current data-key version"), ...errorResponses(403, 404) },
  }), auth, async (c) => {
    const id = c.req.param("id");
    if (!isUuid(id)) throw new ApiError("not_found");
    const version = await db.withService(async (tx) => {
      adminGate(c, deps, await callerRole(tx, id, c.get("user").id), ["OWNER"]);
      // Serialize rotations of one distributor (each reads max(version) + 1). "No key update"
      // does not block inserts that reference the distributor.
      await tx`select id from public.distributors where id = ${id} for no key update`;
      const v = await rotateDataKey(tx, keyring, id);
      await audit(c, tx, id, "key.rotate", "encryption_keys", null, { purpose: "data", version: v });
      return v;
    });
    deps.tenantKeys.invalidate(id);
    deps.logger.info("key.rotated", { requestId: c.get("requestId"), distributorId: id, version });
    return c.json({ version }, 200);
  });
}
