// Distributor settings: connect a WhatsApp number (whatsapp.connect) and rotate the data key
// (keys.rotate). Both are sensitive permissions: aal2 when REQUIRE_MFA_FOR_ADMIN_ACTIONS is on.
// Each runs in one service transaction behind the gate, which holds the caller's membership row
// (for share) until commit, so the role cannot change under the write.
import { ApiError, json, jsonBody, route } from "../../../shared/http/index.ts";
import { sealAccessToken } from "../../../shared/messaging/index.ts";
import { rotateDataKey } from "../../../shared/tenancy/index.ts";
import { ConnectWhatsappBody, gate, IdParams, inOrder, KeyVersionSchema, WhatsappAccountSchema, type RouteDeps } from "./common.ts";

export function settingsRoutes({ deps, api, auth }: RouteDeps) {
  const { keyring } = deps;

  api.openapi(
    route({
      method: "post", path: "/{id}/whatsapp", operationId: "connectWhatsapp",
      middleware: [auth, gate(deps, "whatsapp.connect")] as const,
      summary: "Connect a WhatsApp Business phone number (whatsapp.connect; needs aal2); the token is stored encrypted",
      request: { params: IdParams, body: jsonBody(ConnectWhatsappBody) },
      errors: ["not_found", "forbidden", "mfa_required", "conflict"],
      responses: { 201: json(WhatsappAccountSchema, "Connected") },
    }),
    async (c) => {
      const { phone_number_id, display_phone_number, access_token } = c.req.valid("json");
      const t = c.get("tenant");
      const account = await t.serviceTransaction(async (tx) => {
        // Read on this transaction's connection (usually a cache hit), never a second one.
        const keys = await t.keys(tx);
        const accountId = crypto.randomUUID();
        // Sealed under the distributor's current data key, bound to this row (AAD whatsapp_accounts:<id>).
        const sealed = await sealAccessToken(keys, accountId, access_token);
        const [[row]] = await inOrder([
          tx<{ id: string }[]>`
            insert into public.whatsapp_accounts
              (id, distributor_id, phone_number_id, display_phone_number, access_token_encrypted, access_token_iv, key_version)
            values (${accountId}, ${t.id}, ${phone_number_id}, ${display_phone_number}, ${sealed.encryptedValue}, ${sealed.iv}, ${sealed.keyVersion})
            on conflict (phone_number_id) do nothing
            returning id`,
          t.audit(tx, "whatsapp.connect", "whatsapp_accounts", accountId, { account_id: accountId, phone_number_id }),
        ]);
        // Taken, here or by another distributor: the same answer either way.
        if (!row) throw new ApiError("conflict", {}, "phone_number_id already connected");
        return { id: accountId, phone_number_id, display_phone_number };
      });
      deps.logger.info("whatsapp.connected", { requestId: c.get("requestId"), distributorId: t.id, accountId: account.id });
      return c.json(account, 201);
    },
  );

  api.openapi(
    route({
      method: "post", path: "/{id}/rotate-key", operationId: "rotateDataKey",
      middleware: [auth, gate(deps, "keys.rotate")] as const,
      summary: "Rotate the distributor's data key (keys.rotate; needs aal2); older versions stay readable",
      request: { params: IdParams },
      errors: ["not_found", "forbidden", "mfa_required"],
      responses: { 200: json(KeyVersionSchema, "The new current data-key version") },
    }),
    async (c) => {
      const t = c.get("tenant");
      const version = await t.serviceTransaction(async (tx) => {
        // Serialize rotations of one distributor (each reads max(version) + 1). "No key update"
        // does not block inserts that reference the distributor.
        await tx`select id from public.distributors where id = ${t.id} for no key update`;
        const v = await rotateDataKey(tx, keyring, t.id);
        await t.audit(tx, "key.rotate", "encryption_keys", null, { purpose: "data", version: v });
        return v;
      });
      deps.tenantKeys.invalidate(t.id);
      deps.logger.info("key.rotated", { requestId: c.get("requestId"), distributorId: t.id, version });
      return c.json({ version }, 200);
    },
  );
}
