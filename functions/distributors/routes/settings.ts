// Distributor settings: connect a WhatsApp number (whatsapp.connect) and rotate the data key
// (keys.rotate). Both are sensitive permissions: aal2 when REQUIRE_MFA_FOR_ADMIN_ACTIONS is on.
// Each write runs in one service transaction behind the gate, which holds the caller's
// membership row (for share) until commit, so the role cannot change under the write.
//
// Connecting a number first proves the caller controls it (issue 9 §4): the gate is checked,
// then the Graph API is asked for the number with the supplied token (no transaction open), and
// only a success naming the same number (digits compared) lets the short write transaction run.
import type { Deps } from "../../../shared/runtime/deps.ts";
import { ApiError, json, jsonBody, route } from "../../../shared/http/index.ts";
import { sealAccessToken } from "../../../shared/messaging/index.ts";
import { rotateDataKey } from "../../../shared/tenancy/index.ts";
import { ConnectWhatsappBody, gate, IdParams, inOrder, KeyVersionSchema, WhatsappAccountSchema, type RouteDeps } from "./common.ts";

/** What the Graph API said about a phone number and a token. */
export type Ownership =
  | { kind: "proven"; displayPhoneNumber: string }
  /** Graph answered, and not with this number for this token (bad token, unknown id, other number). */
  | { kind: "refused"; reason: string }
  /** Graph did not answer usefully (5xx, 429, timeout, network, unreadable 2xx): nothing is decided. */
  | { kind: "unavailable"; reason: string };

const digits = (s: string) => s.replace(/\D/g, "");

/**
 * The pure decision on Graph's answer to GET /<version>/<phone_number_id>: proven only for a 2xx
 * whose display_phone_number has the submitted digits. 4xx → refused (Meta answers 400/401/403
 * for a token that cannot read the number and for an unknown id); 429 and 5xx → unavailable.
 */
export function judgeOwnership(status: number, body: unknown, submittedDisplay: string): Ownership {
  if (status === 429 || status >= 500) return { kind: "unavailable", reason: `graph_${status}` };
  if (status < 200 || status >= 300) return { kind: "refused", reason: `graph_${status}` };
  const shown = (body as { display_phone_number?: unknown } | null)?.display_phone_number;
  if (typeof shown !== "string" || !digits(shown)) return { kind: "unavailable", reason: "graph_invalid_response" };
  if (digits(shown) !== digits(submittedDisplay)) return { kind: "refused", reason: "number_mismatch" };
  return { kind: "proven", displayPhoneNumber: shown };
}

const MAX_GRAPH_RESPONSE_CHARS = 64 * 1024;

/**
 * Ask the Graph API for the number with the caller's token: one attempt, bounded by
 * GRAPH_API_TIMEOUT_MS, outside any transaction (deps.fetch does not count against the request's
 * database deadline). Never throws; the token never reaches a log line or an error value.
 */
export async function proveOwnership(deps: Deps, phoneNumberId: string, accessToken: string, submittedDisplay: string): Promise<Ownership> {
  const { GRAPH_API_BASE_URL: base, GRAPH_API_VERSION: version, GRAPH_API_TIMEOUT_MS: timeoutMs } = deps.config;
  const url = `${base.replace(/\/+$/, "")}/${version}/${encodeURIComponent(phoneNumberId)}?fields=display_phone_number,verified_name`;
  try {
    const res = await deps.fetch(url, {
      method: "GET",
      headers: { authorization: `Bearer ${accessToken}`, accept: "application/json" },
      signal: AbortSignal.timeout(timeoutMs),
      redirect: "error",
    });
    const text = await res.text();
    let body: unknown = null;
    try {
      body = text.length <= MAX_GRAPH_RESPONSE_CHARS ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    return judgeOwnership(res.status, body, submittedDisplay);
  } catch (err) {
    const name = (err as { name?: string } | null)?.name;
    return { kind: "unavailable", reason: name === "TimeoutError" || name === "AbortError" ? "graph_timeout" : "graph_network" };
  }
}

export function settingsRoutes({ deps, api, auth }: RouteDeps) {
  const { keyring } = deps;

  api.openapi(
    route({
      method: "post", path: "/{id}/whatsapp", operationId: "connectWhatsapp",
      middleware: [auth, gate(deps, "whatsapp.connect")] as const,
      summary: "Connect a WhatsApp Business phone number (whatsapp.connect; needs aal2); the token is stored encrypted",
      description: "Before anything is stored, the Graph API is asked for the number with the supplied access token " +
        "(GET /<version>/<phone_number_id>?fields=display_phone_number,verified_name); it must answer with the same " +
        "number (digits compared). A token that cannot read the number, a different number and a number already " +
        "connected (here or elsewhere) all answer the same 409; the Graph API unreachable or failing answers 502 " +
        "and nothing is stored.",
      request: { params: IdParams, body: jsonBody(ConnectWhatsappBody) },
      errors: ["not_found", "forbidden", "mfa_required", "conflict", "upstream"],
      responses: { 201: json(WhatsappAccountSchema, "Connected") },
    }),
    async (c) => {
      const { phone_number_id, display_phone_number, access_token } = c.req.valid("json");
      const t = c.get("tenant");
      const requestId = c.get("requestId");
      // 1. The gate (membership, permission, aal2, live session) before anyone's token is used.
      await t.verified();
      // 2. Proof of control, with no transaction open. Proof first: only a working token for
      //    this very number can learn whether it is connected somewhere (both answer 409 anyway).
      const proof = await proveOwnership(deps, phone_number_id, access_token, display_phone_number);
      if (proof.kind === "unavailable") {
        deps.logger.warn("whatsapp.proof_unavailable", { requestId, distributorId: t.id, reason: proof.reason });
        throw new ApiError("upstream", {}, `graph ownership check: ${proof.reason}`);
      }
      if (proof.kind === "refused") {
        deps.logger.warn("whatsapp.proof_refused", { requestId, distributorId: t.id, reason: proof.reason });
        throw new ApiError("conflict", {}, `phone number not proven: ${proof.reason}`);
      }
      // 3. A short transaction: the gate again (role locked for share), seal, insert, audit.
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
        // Taken, here or by another distributor: the same answer as an unproven number.
        if (!row) throw new ApiError("conflict", {}, "phone_number_id already connected");
        return { id: accountId, phone_number_id, display_phone_number };
      });
      deps.logger.info("whatsapp.connected", { requestId, distributorId: t.id, accountId: account.id });
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
