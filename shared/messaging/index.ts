// Storage formats shared by webhook-whatsapp (writes inbound), messages (reads, writes
// outbound) and distributors (WhatsApp tokens): what is sealed, with which AAD, and what may
// be stored in clear (PII types and counts, ids; previews are sealed too).
import type { Sealed } from "../crypto/index.ts";
import { openFor, sealFor, type DistributorKeys } from "../tenancy/keys.ts";

/** Everything a message carries, sealed as one JSON document (AAD = messages:<id>). */
export interface MessageContent {
  text?: string;
  caption?: string;
  media?: { id?: string; mime_type?: string; sha256?: string; filename?: string; url?: string };
  attachments?: string[];
  location?: { latitude?: number; longitude?: number; name?: string; address?: string };
  contacts?: unknown[];
  interactive?: { type?: string; id?: string; title?: string; description?: string };
  button?: { text?: string; payload?: string };
  reaction?: { message_id?: string; emoji?: string };
  /** For types we do not model: Meta's type name. */
  unsupported_type?: string;
}

export interface SealedColumns {
  content_encrypted: string;
  content_iv: string;
  key_version: number;
}

export async function sealMessageContent(keys: DistributorKeys, messageId: string, content: MessageContent): Promise<SealedColumns> {
  const s = await sealFor(keys, "messages", messageId, JSON.stringify(content));
  return { content_encrypted: s.encryptedValue, content_iv: s.iv, key_version: s.keyVersion };
}

export async function openMessageContent(keys: DistributorKeys, messageId: string, row: SealedColumns): Promise<MessageContent> {
  return JSON.parse(await openFor(keys, "messages", messageId, toSealed(row))) as MessageContent;
}

/** The human-readable text of a message: its text, caption, button/interactive title, or emoji. */
export function messageText(c: MessageContent): string {
  return c.text ?? c.caption ?? c.interactive?.title ?? c.button?.text ?? c.reaction?.emoji ?? c.location?.name ?? "";
}

/** The one length of every message and conversation preview, in code points (ellipsis included). */
export const PREVIEW_MAX_CHARS = 120;

/**
 * A message's preview from text whose personal data is masked already (maskedPreview masks it):
 * whitespace folded to one line, at most PREVIEW_MAX_CHARS code points (cut with "…", never
 * splitting a surrogate pair), and "[<type>]" when nothing is left. Stored sealed
 * (sealPreview), never in clear.
 */
export function buildPreview(maskedText: string, type: string): string {
  const masked = maskedText.replace(/\s+/g, " ").trim();
  if (!masked) return `[${type}]`;
  if (masked.length <= PREVIEW_MAX_CHARS) return masked; // UTF-16 units ≥ code points
  const chars = Array.from(masked.slice(0, PREVIEW_MAX_CHARS * 2 + 2));
  return chars.length <= PREVIEW_MAX_CHARS ? masked : `${chars.slice(0, PREVIEW_MAX_CHARS - 1).join("")}…`;
}

/**
 * buildPreview of `text` with its personal data masked. shared/pii is imported here, on first
 * use, not at start: its scanner is ~11 ms of a cold start that most first requests do not need.
 */
export async function maskedPreview(text: string, type: string): Promise<string> {
  const { maskPii } = await import("../pii/index.ts");
  return buildPreview(maskPii(text).masked, type);
}

/**
 * Previews at rest: messages.preview holds the masked preview sealed with the distributor's
 * data key, bound to the message (AAD message_previews:<id>), in a self-describing text form
 * "enc:v1:<key version>:<iv>:<ciphertext>" (the form of customers.notes). The PII module does
 * not find names in free text, so a masked preview is still personal data.
 */
export const SEALED_PREFIX = "enc:v1:";

export async function sealPreview(keys: DistributorKeys, messageId: string, preview: string): Promise<string> {
  const s = await sealFor(keys, "message_previews", messageId, preview);
  return `${SEALED_PREFIX}${s.keyVersion}:${s.iv}:${s.encryptedValue}`;
}

/**
 * The preview of a stored message. A sealed value is opened; a value without the prefix is a
 * legacy clear preview (written before 20261202000500; the migration cleared those) and is
 * returned as is; null (cleared) → null: the caller rebuilds it from the sealed content.
 */
export async function openPreview(keys: DistributorKeys, messageId: string, stored: string | null): Promise<string | null> {
  if (stored == null || !stored.startsWith(SEALED_PREFIX)) return stored;
  const [version, iv, ct] = stored.slice(SEALED_PREFIX.length).split(":");
  return await openFor(keys, "message_previews", messageId, { keyVersion: Number(version), iv, encryptedValue: ct });
}

/** Customer contact data, sealed as one document (AAD = customers:<id>). */
export interface CustomerContact {
  name?: string | null;
  phone?: string | null;
  email?: string | null;
  wa_id?: string | null;
}

export async function sealCustomerContact(keys: DistributorKeys, customerId: string, contact: CustomerContact) {
  const s = await sealFor(keys, "customers", customerId, JSON.stringify(contact));
  return { contact_encrypted: s.encryptedValue, contact_iv: s.iv, key_version: s.keyVersion };
}

export async function openCustomerContact(
  keys: DistributorKeys, customerId: string, row: { contact_encrypted: string | null; contact_iv: string | null; key_version: number | null },
): Promise<CustomerContact> {
  if (!row.contact_encrypted || !row.contact_iv || row.key_version == null) return {};
  return JSON.parse(await openFor(keys, "customers", customerId, {
    encryptedValue: row.contact_encrypted, iv: row.contact_iv, keyVersion: row.key_version,
  })) as CustomerContact;
}

/** Keyed hash of a phone number or WhatsApp id: digits only, so formats agree. */
export function phoneLookupHash(keys: DistributorKeys, phone: string): Promise<string> {
  return keys.hash(`phone:${phone.replace(/\D/g, "")}`);
}

export function emailLookupHash(keys: DistributorKeys, email: string): Promise<string> {
  return keys.hash(`email:${email.trim().toLowerCase()}`);
}

/** A WhatsApp Cloud API token (AAD = whatsapp_accounts:<id>). */
export function sealAccessToken(keys: DistributorKeys, accountId: string, token: string): Promise<Sealed> {
  return sealFor(keys, "whatsapp_accounts", accountId, token);
}

export function openAccessToken(
  keys: DistributorKeys, accountId: string, row: { access_token_encrypted: string; access_token_iv: string; key_version: number },
): Promise<string> {
  return openFor(keys, "whatsapp_accounts", accountId, {
    encryptedValue: row.access_token_encrypted, iv: row.access_token_iv, keyVersion: row.key_version,
  });
}

function toSealed(row: SealedColumns): Sealed {
  return { encryptedValue: row.content_encrypted, iv: row.content_iv, keyVersion: row.key_version };
}

/** Status order for delivery receipts: statuses only move forward; failed is terminal. */
export const STATUS_RANK: Record<string, number> = { received: 0, sent: 1, delivered: 2, read: 3, failed: 4 };
