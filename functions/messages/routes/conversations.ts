// GET /conversations and GET /conversations/{id}/messages.
import { z } from "@hono/zod-openapi";
import { ApiError, json, route, type Router } from "../../../shared/http/index.ts";
import {
  maskedPreview, messageText, openMessageContent, openPreview, type MessageContent,
} from "../../../shared/messaging/index.ts";
import type { DistributorKeys } from "../../../shared/tenancy/index.ts";
import { toIso } from "../../../shared/schemas/index.ts";
import { tenant } from "../../../shared/tenancy/index.ts";
import { cursorParam, DistributorHeaders, NO_STORE, page, pageQuery, uuidParam, type RouteContext } from "./context.ts";

const Conversation = z.object({
  id: z.string().uuid(),
  customer_id: z.string().uuid(),
  channel: z.enum(["whatsapp", "web", "email", "sms"]),
  status: z.enum(["open", "pending", "closed"]),
  last_message_at: z.string().nullable().openapi({ format: "date-time", description: "ISO 8601 UTC, milliseconds" }),
  preview: z.string().nullable().openapi({ description: "Masked preview of the latest message (personal data replaced by placeholders; stored sealed), null without messages" }),
}).openapi("Conversation");

const ConversationList = z.object({
  conversations: z.array(Conversation),
  next_cursor: z.string().nullable(),
}).openapi("ConversationList");

const ConversationQuery = z.object({
  status: z.enum(["open", "pending", "closed"]).optional().openapi({ param: { name: "status", in: "query" } }),
  ...pageQuery,
  // Conversations never messaged sort last, with a null timestamp in their cursor.
  cursor: cursorParam({ nullTs: true }),
});

const Message = z.object({
  id: z.string().uuid(),
  direction: z.enum(["inbound", "outbound"]),
  message_type: z.string().openapi({ example: "text" }),
  content: z.string().openapi({ description: "Decrypted text (or caption, title, emoji); each read is audited" }),
  details: z.record(z.string(), z.unknown()).nullable()
    .openapi({ description: "The rest of the stored content (media, location, contacts, attachments…), or null" }),
  status: z.enum(["received", "sent", "delivered", "read", "failed"]),
  external_id: z.string().nullable().openapi({ description: "WhatsApp message id (wamid)" }),
  created_at: z.string(),
}).openapi("Message");

const MessageList = z.object({ messages: z.array(Message), next_cursor: z.string().nullable() }).openapi("MessageList");

const IdParam = z.object({ id: uuidParam("id") });

interface ConversationRow {
  id: string;
  customer_id: string;
  channel: string;
  status: string;
  last_message_at: string | null;
  /** The conversation's latest remaining message: its id, type and sealed preview. */
  latest_id: string | null;
  latest_type: string | null;
  latest_preview: string | null;
  /** Only when that message has no sealed preview (cleared by 20261202000500): its sealed content. */
  content_encrypted: string | null;
  content_iv: string | null;
  key_version: number | null;
}

/** The masked preview of a listed conversation, from its latest message (see sealPreview). */
async function previewOf(keys: DistributorKeys, r: ConversationRow): Promise<string | null> {
  if (!r.latest_id) return null;
  try {
    const stored = await openPreview(keys, r.latest_id, r.latest_preview);
    if (stored != null) return stored;
    if (!r.content_encrypted || !r.content_iv || r.key_version == null) return `[${r.latest_type}]`;
    // A preview cleared by the migration: rebuilt from the sealed content, masked again.
    const content = await openMessageContent(keys, r.latest_id, {
      content_encrypted: r.content_encrypted, content_iv: r.content_iv, key_version: r.key_version,
    });
    return await maskedPreview(messageText(content), r.latest_type ?? "text");
  } catch {
    throw new ApiError("internal", {}, `preview of message ${r.latest_id} did not decrypt`);
  }
}

interface MessageRow {
  id: string;
  direction: string;
  message_type: string;
  status: string;
  external_id: string | null;
  created_at: string;
  content_encrypted: string | null;
  content_iv: string | null;
  key_version: number | null;
}

export function conversationRoutes(api: Router, { deps, auth }: RouteContext): void {
  api.openapi(route({
    method: "get", path: "/conversations", tags: ["conversations"], operationId: "listConversations",
    summary: "List conversations, most recent first (messages.read)",
    middleware: [auth, tenant(deps, "messages.read")] as const,
    request: { headers: DistributorHeaders, query: ConversationQuery },
    errors: ["forbidden", "not_found"],
    responses: { 200: json(ConversationList, "A page of conversations", NO_STORE) },
  }), async (c) => {
    const q = c.req.valid("query");
    const t = c.get("tenant");
    const result = await t.transaction(async (tx) => {
      const cur = q.cursor;
      // Keyset on (last_message_at desc nulls last, id desc), the order of conversations_list_idx.
      const after = !cur ? tx``
        : cur.ts === null ? tx`and conversations.last_message_at is null and conversations.id < ${cur.id}`
        : tx`and (conversations.last_message_at < ${cur.ts}::text::timestamptz
                  or (conversations.last_message_at = ${cur.ts}::text::timestamptz and conversations.id < ${cur.id})
                  or conversations.last_message_at is null)`;
      // Previews are sealed per message (nothing sealed is copied between rows): each listed
      // conversation's latest remaining message, one lookup on messages_conversation_latest_idx
      // per row of the page (the lateral runs below the limit).
      const rows = await tx<ConversationRow[]>`
        select conversations.id, conversations.customer_id, conversations.channel, conversations.status,
               to_json(conversations.last_message_at) #>> '{}' as last_message_at,
               lm.id as latest_id, lm.message_type as latest_type, lm.preview as latest_preview,
               lm.content_encrypted, lm.content_iv, lm.key_version
        from public.conversations
        left join lateral (
          select m.id, m.message_type, m.preview,
                 case when m.preview is null then m.content_encrypted end as content_encrypted,
                 case when m.preview is null then m.content_iv end as content_iv,
                 case when m.preview is null then m.key_version end as key_version
          from public.messages m
          where m.conversation_id = conversations.id and m.deleted_at is null
          order by coalesce(m.external_timestamp, m.created_at) desc, m.id desc
          limit 1
        ) lm on true
        where conversations.distributor_id = ${t.id} ${q.status ? tx`and conversations.status = ${q.status}` : tx``} ${after}
        -- The column, not the text alias above: the order of conversations_list_idx.
        order by conversations.last_message_at desc nulls last, conversations.id desc
        limit ${q.limit + 1}`;
      const p = page([...rows], q.limit, (r) => ({ ts: r.last_message_at, id: r.id }));
      const keys = await t.keys(tx); // after the gate; the distributor's cached keys
      const items = await Promise.all(p.items.map(async (r) => ({
        id: r.id, customer_id: r.customer_id, channel: r.channel, status: r.status,
        last_message_at: toIso(r.last_message_at), preview: await previewOf(keys, r),
      })));
      return { items, next_cursor: p.next_cursor };
    });
    return c.json({ conversations: result.items, next_cursor: result.next_cursor } as z.infer<typeof ConversationList>, 200);
  });

  api.openapi(route({
    method: "get", path: "/conversations/{id}/messages", tags: ["conversations"], operationId: "listConversationMessages",
    summary: "Messages of a conversation, newest first, decrypted (messages.read; audited)",
    description: "Soft-deleted messages are left out. Each call that reads decrypted content writes one " +
      "data_access_audit row (messages.read_content, record_id = the conversation, details.count).",
    middleware: [auth, tenant(deps, "messages.read")] as const,
    request: { headers: DistributorHeaders, params: IdParam, query: z.object(pageQuery) },
    errors: ["forbidden", "not_found"],
    responses: { 200: json(MessageList, "A page of messages", NO_STORE) },
  }), async (c) => {
    const { id: conversationId } = c.req.valid("param");
    const q = c.req.valid("query");
    const t = c.get("tenant");
    const result = await t.transaction(async (tx) => {
      const cur = q.cursor;
      // One statement: the page, and the audit row (only when the conversation is visible).
      const [r] = await tx<{ found: number; rows: MessageRow[] }[]>`
        with conv as (
          select id from public.conversations where id = ${conversationId} and distributor_id = ${t.id}
        ), pg as (
          select m.id, m.direction, m.message_type, m.status, m.external_id, m.created_at,
                 m.content_encrypted, m.content_iv, m.key_version
          from public.messages m join conv on conv.id = m.conversation_id
          where m.distributor_id = ${t.id} and m.deleted_at is null
            ${cur ? tx`and (m.created_at, m.id) < (${cur.ts}::text::timestamptz, ${cur.id}::uuid)` : tx``}
          order by m.created_at desc, m.id desc
          limit ${q.limit + 1}
        ), audit as (
          select ${t.auditCall(tx, "messages.read_content", "messages", {
            recordIdSql: tx`conv.id`, detailsSql: tx`jsonb_build_object('count', least((select count(*) from pg), ${q.limit}))`,
          })}
          from conv
        )
        select (select count(*) from audit)::int as found,
               coalesce((select json_agg(pg order by pg.created_at desc, pg.id desc) from pg), '[]'::json) as rows`;
      await t.verified();
      if (!r.found) throw new ApiError("not_found", {}, "conversation not visible");
      const p = page(r.rows, q.limit, (m) => ({ ts: m.created_at, id: m.id }));
      const keys = await t.keys(tx);
      const messages = await Promise.all(p.items.map(async (m) => {
        let content: MessageContent = {};
        if (m.content_encrypted && m.content_iv && m.key_version != null) {
          try {
            content = await openMessageContent(keys, m.id, {
              content_encrypted: m.content_encrypted, content_iv: m.content_iv, key_version: m.key_version,
            });
          } catch {
            throw new ApiError("internal", {}, `message ${m.id} did not decrypt`);
          }
        }
        const { text: _text, ...rest } = content;
        return {
          id: m.id,
          direction: m.direction,
          message_type: m.message_type,
          content: messageText(content),
          details: Object.keys(rest).length ? rest : null,
          status: m.status,
          external_id: m.external_id,
          created_at: toIso(m.created_at),
        };
      }));
      return { messages, next_cursor: p.next_cursor };
    });
    return c.json(result as z.infer<typeof MessageList>, 200);
  });
}
