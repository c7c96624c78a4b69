// Meta's WhatsApp Cloud API webhook payload → what we store. The envelope must have Meta's
// shape (else 400); inside it, every entry, change, message and status is read, one bad item
// never costs the others: a message of a type we do not model is kept as "unsupported".
// Text PostgreSQL cannot store (NUL, lone UTF-16 surrogates) is replaced by U+FFFD in free
// text; an id carrying it cannot name anything, so only that item is skipped.
// Reference: developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components
import { z } from "zod";
import type { MessageContent } from "../../shared/messaging/index.ts";

/** Values of messages.message_type that inbound WhatsApp messages use. */
export const INBOUND_TYPES = [
  "text", "image", "audio", "video", "document", "sticker", "location", "contacts",
  "interactive", "button", "reaction",
] as const;
export type InboundType = (typeof INBOUND_TYPES)[number] | "unsupported";

const MEDIA_TYPES = new Set(["image", "audio", "video", "document", "sticker"]);

export type DeliveryStatus = "sent" | "delivered" | "read" | "failed";
const STATUSES = new Set<string>(["sent", "delivered", "read", "failed"]);

export interface InboundMessage {
  /** Meta's message id (wamid…). */
  externalId: string;
  /** The sender's WhatsApp id (digits). */
  from: string;
  timestamp: Date | null;
  messageType: InboundType;
  content: MessageContent;
}

export interface StatusUpdate {
  externalId: string;
  status: DeliveryStatus;
  timestamp: Date | null;
  errorCode: string | null;
  errorTitle: string | null;
}

export interface ChangeBatch {
  phoneNumberId: string;
  /** wa_id → profile name (null when Meta sends none). */
  contacts: Map<string, string | null>;
  messages: InboundMessage[];
  statuses: StatusUpdate[];
}

export interface Delivery {
  batches: ChangeBatch[];
  /** Items skipped because they cannot be stored (no id, no sender, unknown status…): counts only. */
  skipped: { changes: number; messages: number; statuses: number };
}

// The envelope: strict enough to know it is Meta's, lenient about everything inside.
const Envelope = z.object({
  object: z.string().max(64),
  entry: z.array(z.object({
    changes: z.array(z.object({ field: z.string().max(64), value: z.unknown() })).optional(),
  })),
});

const WA_ID = /^\+?[0-9]{1,32}$/;
const PHONE_NUMBER_ID = /^[0-9]{1,32}$/;
const MAX_ID = 256;

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec | undefined => (v && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : undefined);

// NUL, or a high surrogate not followed by a low one, or a low one not preceded by a high one.
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Free text as PostgreSQL can store it: NUL and lone surrogates become U+FFFD. */
export function storable(s: string): string {
  return s.replace(UNSTORABLE, "\uFFFD");
}

/** The same, through a JSON value we keep as Meta sent it (contacts cards). */
function storableDeep(v: unknown, depth = 0): unknown {
  if (typeof v === "string") return storable(v);
  if (depth > 8 || !v || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map((x) => storableDeep(x, depth + 1));
  return Object.fromEntries(Object.entries(v as Rec).map(([k, x]) => [storable(k), storableDeep(x, depth + 1)]));
}

// A cut at `max` code units must not leave half a surrogate pair behind either.
const str = (v: unknown, max = 100_000): string | undefined => (typeof v === "string" ? storable(v.slice(0, max)) : undefined);
const num = (v: unknown): number | undefined => {
  const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
};
const id = (v: unknown): string | undefined =>
  typeof v === "string" && v.length > 0 && v.length <= MAX_ID && !/[\u0000-\u001f\uD800-\uDFFF]/.test(v) ? v : undefined;

/** Meta's timestamps are Unix seconds as strings. */
function unixTime(v: unknown): Date | null {
  const n = num(v);
  if (n === undefined || n <= 0 || n > 32_503_680_000) return null; // before year 3000
  return new Date(Math.floor(n) * 1000);
}

/** Drop undefined fields so the sealed document holds only what Meta sent. */
function compact<T extends object>(o: T): T | undefined {
  const out: Rec = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return Object.keys(out).length ? (out as T) : undefined;
}

/** The message's content by Meta type; types we do not model are kept as unsupported. */
export function messageContent(m: Rec, type: string): { messageType: InboundType; content: MessageContent } {
  if (type === "text") return { messageType: "text", content: { text: str(rec(m.text)?.body) ?? "" } };
  if (MEDIA_TYPES.has(type)) {
    const o = rec(m[type]) ?? {};
    const media = compact({
      id: str(o.id, MAX_ID), mime_type: str(o.mime_type, 255), sha256: str(o.sha256, 255), filename: str(o.filename, 1024),
      url: str(o.url, 2048),
    }) ?? {};
    return { messageType: type as InboundType, content: compact({ media, caption: str(o.caption) }) ?? { media } };
  }
  switch (type) {
    case "location": {
      const o = rec(m.location) ?? {};
      const location = compact({ latitude: num(o.latitude), longitude: num(o.longitude), name: str(o.name), address: str(o.address) }) ?? {};
      return { messageType: "location", content: { location } };
    }
    case "contacts":
      return { messageType: "contacts", content: { contacts: Array.isArray(m.contacts) ? storableDeep(m.contacts) as unknown[] : [] } };
    case "interactive": {
      const o = rec(m.interactive) ?? {};
      const kind = str(o.type, 64);
      const reply = (kind && rec(o[kind])) || {};
      // button_reply {id,title}, list_reply {id,title,description}, nfm_reply {name,body,response_json}
      const interactive = compact({
        type: kind, id: str(reply.id, MAX_ID), title: str(reply.title) ?? str(reply.body), description: str(reply.description),
      }) ?? {};
      return { messageType: "interactive", content: { interactive } };
    }
    case "button": {
      const o = rec(m.button) ?? {};
      return { messageType: "button", content: { button: compact({ text: str(o.text), payload: str(o.payload) }) ?? {} } };
    }
    case "reaction": {
      const o = rec(m.reaction) ?? {};
      return { messageType: "reaction", content: { reaction: compact({ message_id: str(o.message_id, MAX_ID), emoji: str(o.emoji, 64) }) ?? {} } };
    }
  }
  return { messageType: "unsupported", content: { unsupported_type: type } };
}

function parseMessage(v: unknown): InboundMessage | null {
  const m = rec(v);
  const externalId = id(m?.id);
  const from = str(m?.from, 64);
  if (!m || !externalId || !from || !WA_ID.test(from)) return null;
  const type = str(m.type, 64) || "unknown";
  const { messageType, content } = messageContent(m, type);
  return { externalId, from: from.replace(/^\+/, ""), timestamp: unixTime(m.timestamp), messageType, content };
}

function parseStatus(v: unknown): StatusUpdate | null {
  const s = rec(v);
  const externalId = id(s?.id);
  const status = str(s?.status, 32);
  if (!s || !externalId || !status || !STATUSES.has(status)) return null;
  const err = Array.isArray(s.errors) ? rec(s.errors[0]) : undefined;
  const code = num(err?.code);
  return {
    externalId,
    status: status as DeliveryStatus,
    timestamp: unixTime(s.timestamp),
    errorCode: status === "failed" ? (code !== undefined ? String(code) : str(err?.code, 32) ?? null) : null,
    errorTitle: status === "failed" ? (str(err?.title, 500) ?? str(err?.message, 500) ?? null) : null,
  };
}

/** Parse a delivery; null when the body is not Meta's webhook envelope. */
export function parseDelivery(body: unknown): Delivery | null {
  const env = Envelope.safeParse(body);
  if (!env.success) return null;
  const delivery: Delivery = { batches: [], skipped: { changes: 0, messages: 0, statuses: 0 } };
  if (env.data.object !== "whatsapp_business_account") {
    delivery.skipped.changes += env.data.entry.reduce((n, e) => n + (e.changes?.length ?? 0), 0);
    return delivery;
  }
  for (const entry of env.data.entry) {
    for (const change of entry.changes ?? []) {
      const value = rec(change.value);
      const phoneNumberId = str(rec(value?.metadata)?.phone_number_id, 64);
      if (change.field !== "messages" || !value || !phoneNumberId || !PHONE_NUMBER_ID.test(phoneNumberId)) {
        delivery.skipped.changes++;
        continue;
      }
      const batch: ChangeBatch = { phoneNumberId, contacts: new Map(), messages: [], statuses: [] };
      for (const c of Array.isArray(value.contacts) ? value.contacts : []) {
        const waId = str(rec(c)?.wa_id, 64);
        if (!waId || !WA_ID.test(waId)) continue;
        batch.contacts.set(waId.replace(/^\+/, ""), str(rec(rec(c)?.profile)?.name, 512) ?? null);
      }
      for (const m of Array.isArray(value.messages) ? value.messages : []) {
        const parsed = parseMessage(m);
        if (parsed) batch.messages.push(parsed);
        else delivery.skipped.messages++;
      }
      for (const s of Array.isArray(value.statuses) ? value.statuses : []) {
        const parsed = parseStatus(s);
        if (parsed) batch.statuses.push(parsed);
        else delivery.skipped.statuses++;
      }
      delivery.batches.push(batch);
    }
  }
  return delivery;
}
