// webhook-whatsapp: Meta's WhatsApp Cloud API webhook (public: verify_jwt = false).
//   GET  ?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C → 200 "C" (T checked in constant time), else 403
//   POST signed delivery → every entry, change, message and status stored in ONE transaction;
//        200 only after commit; 503 + Retry-After when the database is unreachable or misses the
//        request deadline (REQUEST_DEADLINE_MS), 500 on another failure (Meta redelivers both), nothing half stored.
// The signature (X-Hub-Signature-256, HMAC-SHA256 of the raw body with the app secret; several
// secrets during rotation) is checked on the raw bytes before anything is parsed.
import { z } from "@hono/zod-openapi";
import { timingSafeEqual } from "../../shared/crypto/index.ts";
import { ApiError, createFunctionApp, createRouter, json, route } from "../../shared/http/index.ts";
import { DB_RETRY_AFTER_SECONDS, isConnectionLost } from "../../shared/db/index.ts";
import { describeError } from "../../shared/log/index.ts";
import { httpOptions, type Deps } from "../../shared/runtime/deps.ts";
import { AccountDirectory, prepareDelivery, storeDelivery, type PreparedDelivery, type StoreResult } from "./ingest.ts";
import { parseDelivery } from "./parse.ts";

export const FUNCTION_NAME = "webhook-whatsapp";
/** Meta's maximum webhook payload. */
export const MAX_WEBHOOK_BYTES = 3 * 1024 * 1024;
const MAX_CHALLENGE_CHARS = 256;
const RETRYABLE_SQLSTATES = new Set(["40P01", "40001"]); // deadlock, serialization failure
const MAX_ATTEMPTS = 3;

const VerifyQuery = z.object({
  "hub.mode": z.string().optional(),
  "hub.verify_token": z.string().optional(),
  "hub.challenge": z.string().optional(),
});

const verifyRoute = route({
  method: "get",
  path: "/",
  operationId: "verifyWhatsappWebhook",
  auth: false,
  summary: "Webhook verification handshake",
  description: "Meta calls this once when the webhook is configured; the challenge is echoed when the verify token matches.",
  request: { query: VerifyQuery },
  errors: ["forbidden"],
  responses: {
    200: { description: "The challenge, echoed", content: { "text/plain": { schema: z.string() } } },
  },
});

/** Documents the delivery; the body is read raw (the signature covers the bytes), not by a validator. */
const DeliveryBody = z.object({
  object: z.literal("whatsapp_business_account"),
  entry: z.array(z.object({
    id: z.string(),
    changes: z.array(z.object({ field: z.string(), value: z.record(z.string(), z.unknown()) })),
  })),
}).openapi("WhatsappDelivery", { description: "Meta's WhatsApp Cloud API webhook payload (messages and statuses)" });

const deliveryRoute = route({
  method: "post",
  path: "/",
  operationId: "receiveWhatsappWebhook",
  auth: false,
  summary: "Receive a webhook delivery",
  description:
    "Meta's `whatsapp_business_account` payload (up to 3 MB), signed with `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`. " +
    "Messages are stored once (idempotent on Meta's message id), statuses only move forward. " +
    "Deliveries for numbers not connected to any distributor are acknowledged and not stored. " +
    "A 5xx makes Meta redeliver: 503 (with Retry-After) when the database is unavailable or misses the request deadline.",
  errors: ["unauthorized", "invalid_request", "payload_too_large", "configuration"],
  responses: {
    200: json(z.object({ ok: z.literal(true) }), "Stored (or nothing to store)"),
  },
});
// Declared in the document only: a zod validator would parse the body before the signature check.
const deliveryDoc = {
  ...deliveryRoute,
  request: {
    headers: z.object({
      "x-hub-signature-256": z.string().openapi({ description: "sha256=<hex HMAC-SHA256 of the raw body with the app secret>", example: "sha256=…" }),
    }),
    body: { required: true, content: { "application/json": { schema: DeliveryBody } } },
  },
};

const enc = new TextEncoder();
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** HMAC keys imported once; each secret in WHATSAPP_APP_SECRET is accepted (rotation). */
function importSigningKeys(secrets: string[]): Promise<CryptoKey[]> {
  return Promise.all(secrets.map((s) =>
    crypto.subtle.importKey("raw", enc.encode(s), { name: "HMAC", hash: "SHA-256" }, false, ["verify"])
  ));
}

function fromHex(hex: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * Check `sha256=<hex>` against every configured secret with crypto.subtle.verify (constant
 * time in the runtime; every key is tried, no early exit).
 */
export async function verifySignature(keys: CryptoKey[], body: Uint8Array<ArrayBuffer>, header: string | undefined): Promise<boolean> {
  if (!header) return false;
  const m = /^sha256=([0-9a-fA-F]{64})$/.exec(header.trim());
  if (!m) return false;
  const given = fromHex(m[1]);
  const results = await Promise.all(keys.map((k) => crypto.subtle.verify("HMAC", k, given, body)));
  return results.includes(true);
}

export function createApp(deps: Deps) {
  const { config, db, logger } = deps;
  const api = createRouter();
  const accounts = new AccountDirectory(db.sql);
  const signingKeys = importSigningKeys(config.WHATSAPP_APP_SECRET ?? []);
  signingKeys.catch(() => {}); // reported on first use

  api.openapi(verifyRoute, (c) => {
    const q = c.req.valid("query");
    const expected = config.WHATSAPP_VERIFY_TOKEN;
    const token = q["hub.verify_token"];
    const challenge = q["hub.challenge"];
    if (!expected) logger.warn("webhook.verify_token_not_configured", { requestId: c.get("requestId") });
    // Evaluate the comparison whatever the other checks say (constant time, no early exit).
    const tokenOk = timingSafeEqual(token ?? "", expected ?? "") && !!expected && token !== undefined;
    if (q["hub.mode"] !== "subscribe" || !tokenOk || !challenge || challenge.length > MAX_CHALLENGE_CHARS) {
      throw new ApiError("forbidden", {}, "webhook verification refused");
    }
    return c.text(challenge, 200);
  });

  api.openAPIRegistry.registerPath(deliveryDoc);
  api.openapi({ ...deliveryRoute, hide: true }, async (c) => {
    const requestId = c.get("requestId");
    // Raw bytes first: the signature covers exactly what Meta sent.
    const raw = new Uint8Array(await c.req.arrayBuffer());
    if (raw.byteLength > MAX_WEBHOOK_BYTES) throw new ApiError("payload_too_large");
    let keys: CryptoKey[];
    try {
      keys = await signingKeys;
    } catch {
      throw new ApiError("configuration", {}, "WHATSAPP_APP_SECRET could not be imported");
    }
    if (!keys.length) throw new ApiError("configuration", {}, "WHATSAPP_APP_SECRET is not set");
    if (!(await verifySignature(keys, raw, c.req.header("x-hub-signature-256")))) {
      throw new ApiError("unauthorized", {}, "webhook signature missing or wrong");
    }

    let body: unknown;
    try {
      body = JSON.parse(utf8.decode(raw));
    } catch {
      throw new ApiError("invalid_request", {}, "webhook body is not valid JSON");
    }
    const delivery = parseDelivery(body);
    if (!delivery) throw new ApiError("invalid_request", {}, "not a webhook payload");

    const numbers = delivery.batches.map((b) => b.phoneNumberId);
    let result: StoreResult | null = null;
    let stats: PreparedDelivery["stats"] | null = null;
    try {
      const known = numbers.length ? await accounts.resolve(numbers) : new Map();
      const prepared = await prepareDelivery(delivery, known, (d) => deps.tenantKeys.get(d), deps.now());
      stats = prepared.stats;
      if (stats.unknownNumbers) {
        for (const p of new Set(numbers.filter((n) => !known.has(n)))) {
          logger.warn("webhook.unknown_phone_number", { requestId, phoneNumberId: p });
        }
      }
      if (prepared.customers.length || prepared.statuses.length) {
        for (let attempt = 1; ; attempt++) {
          try {
            result = await db.withService((tx) => storeDelivery(tx, prepared));
            break;
          } catch (err) {
            const code = String((err as { code?: unknown }).code ?? "");
            if (attempt >= MAX_ATTEMPTS || !RETRYABLE_SQLSTATES.has(code)) throw err;
            logger.warn("webhook.retry", { requestId, attempt, errorCode: code });
          }
        }
      }
    } catch (err) {
      if (err instanceof ApiError) throw err; // 503 + Retry-After from shared/db on database trouble
      logger.error("webhook.store_failed", { requestId, ...describeError(err) });
      // Database unreachable or too slow: 503 promptly (Meta redelivers) rather than holding Meta's connection.
      if (isConnectionLost(err) || (err as { code?: unknown })?.code === "57014") {
        throw new ApiError("unavailable", { "Retry-After": String(DB_RETRY_AFTER_SECONDS) }, "webhook delivery not stored");
      }
      throw new ApiError("internal", {}, "webhook delivery not stored");
    }

    const received = delivery.batches.reduce((n, b) => n + b.messages.length, 0);
    const statuses = delivery.batches.reduce((n, b) => n + b.statuses.length, 0);
    if (result?.statusesUnknown) logger.info("webhook.status_unknown_message", { requestId, count: result.statusesUnknown });
    logger.info("webhook.processed", {
      requestId,
      changes: delivery.batches.length,
      messages: received,
      inserted: result?.inserted ?? 0,
      piiResults: result?.piiResults ?? 0,
      statuses,
      statusesApplied: result?.statusesApplied ?? 0,
      statusesUnknown: result?.statusesUnknown ?? 0,
      unknownNumbers: stats?.unknownNumbers ?? 0,
      unknownNumberItems: stats?.unknownNumberItems ?? 0,
      duplicatesInPayload: stats?.duplicatesInPayload ?? 0,
      skippedChanges: delivery.skipped.changes,
      skippedMessages: delivery.skipped.messages,
      skippedStatuses: delivery.skipped.statuses,
    });
    return c.json({ ok: true as const }, 200);
  });

  return createFunctionApp(
    httpOptions(FUNCTION_NAME, deps, { maxBodyBytes: MAX_WEBHOOK_BYTES }),
    api,
    { title: FUNCTION_NAME, description: "WhatsApp Cloud API webhook: verification and signed deliveries" },
  );
}
