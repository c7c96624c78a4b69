// Meta-format WhatsApp webhook payloads and their X-Hub-Signature-256, for tests and the benchmark.
// Shapes follow developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components.
import { createHmac, randomBytes } from "node:crypto";

export type MetaMessage = Record<string, unknown> & { id: string; from: string; type: string; timestamp: string };
export type MetaStatus = Record<string, unknown> & { id: string; status: string };

export interface ChangeSpec {
  phoneNumberId: string;
  displayPhoneNumber?: string;
  contacts?: { wa_id: string; name?: string }[];
  messages?: MetaMessage[];
  statuses?: MetaStatus[];
}

/** A unique wamid-like id (Meta's are base64 of an opaque structure). */
export function wamid(prefix = ""): string {
  return `wamid.${prefix}${randomBytes(18).toString("base64url")}`;
}

/** A random 12-digit WhatsApp id (digits only, like Meta's wa_id). */
export function waId(): string {
  return `1${String(Math.floor(Math.random() * 1e11)).padStart(11, "0")}`;
}

/** A random phone_number_id (Meta's are 15-16 digits). */
export function phoneNumberId(): string {
  return `1${String(Math.floor(Math.random() * 1e15)).padStart(15, "0")}`;
}

export const ts = (d = new Date()) => String(Math.floor(d.getTime() / 1000));

interface Base { from: string; id?: string; timestamp?: string; context?: { from: string; id: string } }
const base = (b: Base, type: string) => ({ from: b.from, id: b.id ?? wamid(), timestamp: b.timestamp ?? ts(), type, ...(b.context ? { context: b.context } : {}) });

export const msg = {
  text: (b: Base & { body: string }): MetaMessage => ({ ...base(b, "text"), text: { body: b.body } }),
  media: (b: Base & { kind: "image" | "audio" | "video" | "document" | "sticker"; mediaId?: string; mime?: string; caption?: string; filename?: string; sha256?: string }): MetaMessage => ({
    ...base(b, b.kind),
    [b.kind]: {
      id: b.mediaId ?? `media-${randomBytes(6).toString("hex")}`,
      mime_type: b.mime ?? "application/octet-stream",
      sha256: b.sha256 ?? randomBytes(32).toString("base64"),
      ...(b.caption !== undefined ? { caption: b.caption } : {}),
      ...(b.filename !== undefined ? { filename: b.filename } : {}),
    },
  }),
  location: (b: Base & { latitude: number; longitude: number; name?: string; address?: string }): MetaMessage => ({
    ...base(b, "location"), location: { latitude: b.latitude, longitude: b.longitude, name: b.name, address: b.address },
  }),
  contacts: (b: Base & { contacts: unknown[] }): MetaMessage => ({ ...base(b, "contacts"), contacts: b.contacts }),
  buttonReply: (b: Base & { replyId: string; title: string }): MetaMessage => ({
    ...base(b, "interactive"), interactive: { type: "button_reply", button_reply: { id: b.replyId, title: b.title } },
  }),
  listReply: (b: Base & { replyId: string; title: string; description?: string }): MetaMessage => ({
    ...base(b, "interactive"), interactive: { type: "list_reply", list_reply: { id: b.replyId, title: b.title, description: b.description } },
  }),
  button: (b: Base & { text: string; payload: string }): MetaMessage => ({ ...base(b, "button"), button: { text: b.text, payload: b.payload } }),
  reaction: (b: Base & { messageId: string; emoji: string }): MetaMessage => ({
    ...base(b, "reaction"), reaction: { message_id: b.messageId, emoji: b.emoji },
  }),
  /** Any other type Meta sends (order, system, unsupported, …). */
  other: (b: Base & { type: string; extra?: Record<string, unknown> }): MetaMessage => ({ ...base(b, b.type), ...(b.extra ?? {}) }),
};

export function status(id: string, s: "sent" | "delivered" | "read" | "failed", o: { recipient?: string; timestamp?: string; error?: { code: number; title: string } } = {}): MetaStatus {
  return {
    id,
    status: s,
    timestamp: o.timestamp ?? ts(),
    recipient_id: o.recipient ?? waId(),
    ...(s === "failed" ? { errors: [{ code: o.error?.code ?? 131026, title: o.error?.title ?? "Message undeliverable" }] } : {}),
  };
}

export function change(c: ChangeSpec) {
  return {
    field: "messages",
    value: {
      messaging_product: "whatsapp",
      metadata: { display_phone_number: c.displayPhoneNumber ?? "15550001111", phone_number_id: c.phoneNumberId },
      ...(c.contacts ? { contacts: c.contacts.map((x) => ({ profile: { name: x.name ?? "" }, wa_id: x.wa_id })) } : {}),
      ...(c.messages ? { messages: c.messages } : {}),
      ...(c.statuses ? { statuses: c.statuses } : {}),
    },
  };
}

/** A delivery: one entry per inner array, each holding its changes. */
export function payload(entries: ChangeSpec[][]) {
  return {
    object: "whatsapp_business_account",
    entry: entries.map((changes, i) => ({ id: `10${i}`, changes: changes.map(change) })),
  };
}

/** One change with messages, the sender(s) listed in contacts as Meta does. */
export function messagesPayload(phoneId: string, messages: MetaMessage[], names: Record<string, string> = {}) {
  const senders = [...new Set(messages.map((m) => m.from))];
  return payload([[{ phoneNumberId: phoneId, contacts: senders.map((w) => ({ wa_id: w, name: names[w] ?? `Customer ${w.slice(-4)}` })), messages }]]);
}

export function statusesPayload(phoneId: string, statuses: MetaStatus[]) {
  return payload([[{ phoneNumberId: phoneId, statuses }]]);
}

/** `sha256=<hex HMAC-SHA256(body, secret)>`, as Meta sends it. */
export function sign(body: string | Buffer, secret: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** Headers for a signed POST of `body`. */
export function signedHeaders(body: string, secret: string): Record<string, string> {
  return { "content-type": "application/json", "x-hub-signature-256": sign(body, secret) };
}
