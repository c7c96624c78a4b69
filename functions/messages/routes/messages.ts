// POST / (send a message) and DELETE /{messageId} (soft delete).
//
// Sending: transaction 1 stores the outbound message (content and masked preview sealed,
// status 'sent') and bumps the conversation; then, for a WhatsApp conversation, the
// message goes out through the Graph API with no transaction open; transaction 2 records the
// outcome: the wamid (so status webhooks find the message), or 'failed' with Meta's error
// code and title (→ 502). Attachments travel as links appended to the text body (one Graph
// message, one wamid, statuses tracked as for any text).
import { z } from "@hono/zod-openapi";
import { ApiError, currentDeadline, json, jsonBody, RESPONSE_HEADERS, route, type Router } from "../../../shared/http/index.ts";
import { describeError } from "../../../shared/log/index.ts";
import {
  buildPreview, openAccessToken, openCustomerContact, sealMessageContent, sealPreview, type MessageContent,
} from "../../../shared/messaging/index.ts";
import type { Deps } from "../../../shared/runtime/deps.ts";
import { tenant, type DistributorKeys } from "../../../shared/tenancy/index.ts";
import { sendWhatsAppText, WHATSAPP_TEXT_MAX, type SendResult } from "../graph.ts";
import { DistributorHeaders, NO_STORE, sendRateLimit, uuidParam, type RouteContext } from "./context.ts";
import { text } from "../../../shared/schemas/index.ts";

/** Message types a sender may use: lower case, as every response lists them (the seed's upper case is accepted too). */
export const MESSAGE_TYPES = ["text", "image", "audio", "file", "order_context"] as const;
const SEED_MESSAGE_TYPES = ["TEXT", "IMAGE", "AUDIO", "FILE", "ORDER_CONTEXT"] as const;
export const CONTENT_MAX = 10_000;
export const ATTACHMENTS_MAX = 10;

export const MessageCreate = z.object({
  conversation_id: z.string().uuid(),
  content: text().trim().min(1).max(CONTENT_MAX)
    .openapi({ description: "Trimmed; 1..10,000 characters (UTF-16 code units)" }),
  message_type: z.enum([...MESSAGE_TYPES, ...SEED_MESSAGE_TYPES]).default("text")
    .transform((t) => t.toLowerCase() as (typeof MESSAGE_TYPES)[number])
    .openapi({ description: "Lower case, as responses list it; the upper-case names of the original design are accepted too" }),
  attachments: z.array(z.httpUrl().max(2048)).max(ATTACHMENTS_MAX).default([])
    .openapi({ description: "At most 10 http(s) URLs; sent to WhatsApp as links after the text" }),
}).openapi("MessageCreate");

const MessageCreated = z.object({
  id: z.string().uuid(),
  status: z.enum(["sent", "failed"]),
  external_id: z.string().nullable().openapi({ description: "The wamid for WhatsApp conversations, else null" }),
}).openapi("MessageCreated");

const MessageIdParam = z.object({ messageId: uuidParam("messageId") });

/** The WhatsApp text body: the content, then one attachment link per line. */
export function whatsappBody(content: string, attachments: string[]): string {
  return attachments.length ? `${content}\n\n${attachments.join("\n")}` : content;
}

interface Stored {
  distributorId: string;
  conversationId: string;
  whatsappAccountId: string | null;
  body: string;
  previewUrl: boolean;
  keys: DistributorKeys;
}

interface Target {
  account_id: string;
  phone_number_id: string;
  access_token_encrypted: string;
  access_token_iv: string;
  token_key_version: number;
  customer_id: string;
  contact_encrypted: string | null;
  contact_iv: string | null;
  contact_key_version: number | null;
}

/** Read the number's token and the customer's WhatsApp id (service: tokens are not user-readable). */
type Resolved =
  | { target: { phoneNumberId: string; accessToken: string; to: string } }
  | { error: { errorCode: string; errorTitle: string } };

async function resolveTarget(deps: Deps, distributorId: string, conversationId: string, keys: DistributorKeys): Promise<Resolved> {
  const [row] = await deps.db.withService((tx) => tx<Target[]>`
    select wa.id as account_id, wa.phone_number_id, wa.access_token_encrypted, wa.access_token_iv,
           wa.key_version as token_key_version, cu.id as customer_id, cu.contact_encrypted, cu.contact_iv,
           cu.key_version as contact_key_version
    from public.conversations c
    join public.whatsapp_accounts wa on wa.id = c.whatsapp_account_id and wa.distributor_id = c.distributor_id
    join public.customers cu on cu.id = c.customer_id and cu.distributor_id = c.distributor_id
    where c.id = ${conversationId} and c.distributor_id = ${distributorId}`);
  if (!row) return { error: { errorCode: "no_account", errorTitle: "WhatsApp number no longer connected" } };
  let accessToken: string;
  try {
    accessToken = await openAccessToken(keys, row.account_id, {
      access_token_encrypted: row.access_token_encrypted, access_token_iv: row.access_token_iv, key_version: row.token_key_version,
    });
  } catch {
    return { error: { errorCode: "token_unreadable", errorTitle: "Stored access token did not decrypt" } };
  }
  let to: string | null = null;
  try {
    const contact = await openCustomerContact(keys, row.customer_id, {
      contact_encrypted: row.contact_encrypted, contact_iv: row.contact_iv, key_version: row.contact_key_version,
    });
    const id = (contact.wa_id ?? contact.phone ?? "").replace(/\D/g, "");
    to = id.length >= 5 && id.length <= 20 ? id : null;
  } catch {
    to = null;
  }
  if (!to) return { error: { errorCode: "no_recipient", errorTitle: "Customer has no WhatsApp id" } };
  return { target: { phoneNumberId: row.phone_number_id, accessToken, to } };
}

async function deliver(deps: Deps, s: Stored): Promise<SendResult> {
  const resolved = await resolveTarget(deps, s.distributorId, s.conversationId, s.keys);
  if ("error" in resolved) return { ok: false, attempts: 0, reason: "not_sendable", ...resolved.error };
  // The Graph send has its own timeouts and back-off: the request's database deadline waits
  // through all of it (retry sleeps included), not only through each fetch.
  const deadline = currentDeadline();
  deadline?.suspend();
  try {
    return await sendWhatsAppText(
      { baseUrl: deps.config.GRAPH_API_BASE_URL, version: deps.config.GRAPH_API_VERSION, timeoutMs: deps.config.GRAPH_API_TIMEOUT_MS, fetch: deps.fetch },
      { ...resolved.target, body: s.body, previewUrl: s.previewUrl },
    );
  } finally {
    deadline?.resume();
  }
}

async function recordOutcome(deps: Deps, distributorId: string, messageId: string, r: SendResult): Promise<void> {
  await deps.db.withService((tx) => r.ok
    ? tx`update public.messages set external_id = ${r.wamid}, status_updated_at = now()
         where id = ${messageId} and distributor_id = ${distributorId}`
    : tx`update public.messages set status = 'failed', error_code = ${r.errorCode}, error_title = ${r.errorTitle},
                status_updated_at = now()
         where id = ${messageId} and distributor_id = ${distributorId}`);
}

export function messageRoutes(api: Router, { deps, auth }: RouteContext): void {
  const { logger } = deps;
  const { "Retry-After": _, ...RATE_LIMIT_HEADERS } = RESPONSE_HEADERS;

  api.openapi(route({
    method: "post", path: "/", tags: ["messages"], operationId: "sendMessage",
    summary: "Send a message in a conversation (messages.write; 100 per minute per distributor)",
    description: "WhatsApp conversations are answered through the WhatsApp Cloud API; 429 and 5xx from Graph are " +
      "retried with backoff, a final failure marks the message failed and answers 502. A WhatsApp text body " +
      "(content plus attachment links) longer than 4,096 characters is rejected with 400.",
    middleware: [auth, tenant(deps, "messages.write", { runOptions: sendRateLimit(deps) })] as const,
    request: { headers: DistributorHeaders, body: jsonBody(MessageCreate) },
    errors: ["forbidden", "not_found", "rate_limited", "upstream"],
    responses: {
      201: json(MessageCreated, "Stored (and sent, for WhatsApp). On 502 the message is stored as failed.", { ...RATE_LIMIT_HEADERS, ...NO_STORE }),
    },
  }), async (c) => {
    const m = c.req.valid("json");
    const t = c.get("tenant");
    const messageId = crypto.randomUUID();
    // Loaded on first use, before the transaction (shared/messaging maskedPreview says why).
    const { maskPii } = await import("../../../shared/pii/index.ts");
    const stored = await t.transaction(async (tx): Promise<Stored> => {
      const keys = await t.keys(tx);
      const type = m.message_type.toLowerCase();
      const content: MessageContent = m.attachments.length ? { text: m.content, attachments: m.attachments } : { text: m.content };
      const masked = maskPii(m.content);
      const hasPii = Object.keys(masked.placeholders).length > 0;
      // Sealed, bound to this message; the conversation's preview is read from its latest message.
      const [sealed, preview] = await Promise.all([
        sealMessageContent(keys, messageId, content),
        sealPreview(keys, messageId, buildPreview(masked.masked, type)),
      ]);
      const waBody = whatsappBody(m.content, m.attachments);
      const [row] = await tx<{ whatsapp_account_id: string | null; inserted: number }[]>`
        with conv as (
          select id, channel, whatsapp_account_id from public.conversations
          where id = ${m.conversation_id} and distributor_id = ${t.id}
        ), ins as (
          insert into public.messages (id, distributor_id, conversation_id, channel, direction, message_type,
            content_encrypted, content_iv, key_version, preview, has_pii, status, sent_by, status_updated_at)
          select ${messageId}, ${t.id}, conv.id, conv.channel, 'outbound', ${type},
                 ${sealed.content_encrypted}, ${sealed.content_iv}, ${sealed.key_version}, ${preview}, ${hasPii},
                 'sent', ${t.user.id}, now()
          from conv
          where conv.whatsapp_account_id is null or ${waBody.length <= WHATSAPP_TEXT_MAX}::boolean
          returning id, conversation_id
        ), bump as ( -- data-modifying: runs whether or not it is referenced
          update public.conversations cv
          set last_message_at = greatest(cv.last_message_at, now()), updated_at = now()
          from ins where cv.id = ins.conversation_id
          returning cv.id
        ), audit as (
          select ${t.auditCall(tx, "messages.send", "messages", {
            recordIdSql: tx`ins.id`,
            detailsSql: tx`jsonb_build_object('message_type', ${type}::text, 'attachments', ${m.attachments.length}::int,
                                              'conversation_id', ins.conversation_id)`,
          })}
          from ins
        )
        select conv.whatsapp_account_id, (select count(*) from ins)::int as inserted,
               (select count(*) from audit)::int as audited
        from conv`;
      if (!row) throw new ApiError("not_found", {}, "conversation not visible");
      if (!row.inserted) {
        throw new ApiError("invalid_request", {}, "text body too long for WhatsApp", [{ in: "body", path: "content", code: "too_big" }]);
      }
      return {
        distributorId: t.id, conversationId: m.conversation_id, whatsappAccountId: row.whatsapp_account_id,
        body: waBody, previewUrl: m.attachments.length > 0, keys,
      };
    });

    const headers = c.get("rateLimitHeaders") ?? {};
    if (!stored.whatsappAccountId) return c.json({ id: messageId, status: "sent" as const, external_id: null }, 201, headers);

    const requestId = c.get("requestId");
    let result: SendResult;
    try {
      result = await deliver(deps, stored);
    } catch (err) {
      // The database failed before anything went to Graph: leave a failed row if we still can.
      await recordOutcome(deps, stored.distributorId, messageId, {
        ok: false, attempts: 0, reason: "internal", errorCode: "internal", errorTitle: "Send not completed",
      }).catch(() => {});
      throw err;
    }
    try {
      await recordOutcome(deps, stored.distributorId, messageId, result);
    } catch (err) {
      // The outcome stands either way: a sent message must not be reported as failed (a client
      // retry would message the customer twice).
      logger.error("messages.record_failed", { requestId, messageId, sent: result.ok, ...describeError(err) });
    }
    if (!result.ok) {
      logger.warn("messages.send_failed", { requestId, messageId, errorCode: result.errorCode, reason: result.reason, attempts: result.attempts });
      throw new ApiError("upstream", headers, `graph send failed: ${result.reason}`);
    }
    logger.info("messages.sent", { requestId, messageId, attempts: result.attempts });
    return c.json({ id: messageId, status: "sent" as const, external_id: result.wamid }, 201, headers);
  });

  api.openapi(route({
    method: "delete", path: "/{messageId}", tags: ["messages"], operationId: "deleteMessage",
    summary: "Soft-delete a message (messages.delete; audited)",
    middleware: [auth, tenant(deps, "messages.delete")] as const,
    request: { headers: DistributorHeaders, params: MessageIdParam },
    errors: ["forbidden", "not_found"],
    responses: { 200: json(z.object({ success: z.literal(true) }), "Deleted", NO_STORE) },
  }), async (c) => {
    const { messageId: id } = c.req.valid("param");
    const t = c.get("tenant");
    await t.transaction(async (tx) => {
      // The conversation's preview is read from its latest remaining message at read time
      // (GET /conversations), so a delete moves it back with nothing to copy.
      const [row] = await tx`
        with d as (
          update public.messages set deleted_at = now()
          where id = ${id} and distributor_id = ${t.id} and deleted_at is null
          returning id, conversation_id
        ), cv as (
          update public.conversations c
          set updated_at = now()
          from d where c.id = d.conversation_id
          returning c.id
        ), audit as (
          select ${t.auditCall(tx, "messages.delete", "messages", {
            recordIdSql: tx`d.id`, detailsSql: tx`jsonb_build_object('conversation_id', d.conversation_id)`,
          })}
          from d
        )
        select d.id, (select count(*) from audit)::int as audited, (select count(*) from cv)::int as conversations from d`;
      await t.verified();
      if (!row) throw new ApiError("not_found", {}, "message not visible");
    });
    return c.json({ success: true as const }, 200);
  });
}
