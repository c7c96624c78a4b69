// A parsed delivery → rows, then stored set-based in one transaction.
//
// prepareDelivery does the per-message work in JavaScript, all of it concurrently and before
// the transaction opens: keyed hashes of WhatsApp ids, PII detection, masked previews, sealing (content and preview)
// (ids are generated here because the AAD binds each ciphertext to its row id).
// storeDelivery then writes the whole delivery in at most two statements, pipelined: one
// chain of data-modifying CTEs (customers → conversations → messages → PII results → outbox)
// and one status UPDATE. Inputs are sorted so concurrent deliveries lock rows in one order.
import type { Sql, Tx } from "../../shared/db/index.ts";
import {
  buildPreview, messageText, phoneLookupHash, sealCustomerContact, sealMessageContent, sealPreview, STATUS_RANK, type MessageContent,
} from "../../shared/messaging/index.ts";
import type { DistributorKeys } from "../../shared/tenancy/keys.ts";
import type { Delivery, DeliveryStatus, InboundMessage, InboundType } from "./parse.ts";

export interface WhatsAppAccount {
  id: string;
  distributorId: string;
  phoneNumberId: string;
}

/**
 * phone_number_id → connected account, cached briefly per instance. Only hits are cached: a
 * number connected a moment ago must not be treated as unknown (its messages would be lost).
 */
export class AccountDirectory {
  private cache = new Map<string, { account: WhatsAppAccount; at: number }>();
  constructor(private sql: Sql, private ttlMs = 30_000, private now = () => Date.now()) {}

  async resolve(phoneNumberIds: Iterable<string>): Promise<Map<string, WhatsAppAccount>> {
    const found = new Map<string, WhatsAppAccount>();
    const missing: string[] = [];
    const t = this.now();
    for (const p of new Set(phoneNumberIds)) {
      const hit = this.cache.get(p);
      if (hit && t - hit.at < this.ttlMs) found.set(p, hit.account);
      else missing.push(p);
    }
    if (missing.length) {
      const rows = await this.sql<{ id: string; distributor_id: string; phone_number_id: string }[]>`
        select id, distributor_id, phone_number_id from public.whatsapp_accounts where phone_number_id = any(${missing})`;
      for (const r of rows) {
        const account = { id: r.id, distributorId: r.distributor_id, phoneNumberId: r.phone_number_id };
        found.set(r.phone_number_id, account);
        this.cache.set(r.phone_number_id, { account, at: t });
      }
      for (const p of missing) if (!found.has(p)) this.cache.delete(p);
    }
    return found;
  }
}

interface CustomerRow {
  id: string;
  distributor_id: string;
  wa_id_hash: string;
  contact_encrypted: string;
  contact_iv: string;
  key_version: number;
}

interface ConversationRow {
  id: string;
  distributor_id: string;
  wa_id_hash: string;
  whatsapp_account_id: string;
  last_message_at: string;
}

interface MessageRow {
  id: string;
  distributor_id: string;
  wa_id_hash: string;
  whatsapp_account_id: string;
  external_id: string;
  message_type: InboundType;
  content_encrypted: string;
  content_iv: string;
  key_version: number;
  preview: string;
  has_pii: boolean;
  external_timestamp: string | null;
  pii_types: string[];
  pii_counts: Record<string, number>;
}

interface StatusRow {
  distributor_id: string;
  external_id: string;
  status: DeliveryStatus;
  rank: number;
  error_code: string | null;
  error_title: string | null;
  status_at: string | null;
}

export interface PreparedDelivery {
  customers: CustomerRow[];
  conversations: ConversationRow[];
  messages: MessageRow[];
  statuses: StatusRow[];
  /** Counts for the log line. */
  stats: { unknownNumbers: number; unknownNumberItems: number; duplicatesInPayload: number };
}

export interface StoreResult {
  inserted: number;
  piiResults: number;
  outbox: number;
  statusesApplied: number;
  statusesUnknown: number;
}

/** The text PII detection reads: the visible text plus what else a message can carry about a person. */
function extraPiiText(c: MessageContent): string {
  const parts: string[] = [];
  if (c.location?.address) parts.push(c.location.address);
  if (c.contacts?.length) collectStrings(c.contacts, parts, 0);
  return parts.join("\n");
}

function collectStrings(v: unknown, out: string[], depth: number): void {
  if (depth > 6 || out.length > 1000) return;
  if (typeof v === "string") out.push(v);
  else if (Array.isArray(v)) for (const x of v) collectStrings(x, out, depth + 1);
  else if (v && typeof v === "object") for (const x of Object.values(v)) collectStrings(x, out, depth + 1);
}

const key = (a: string, b: string) => `${a}\u0000${b}`;
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Everything but the database work, concurrently. `accounts` come from AccountDirectory. */
export async function prepareDelivery(
  delivery: Delivery,
  accounts: Map<string, WhatsAppAccount>,
  keysFor: (distributorId: string) => Promise<DistributorKeys>,
  now: Date,
): Promise<PreparedDelivery> {
  // shared/pii on first use, not at start (a verification GET needs none of it).
  const { detectPii, maskPii, summarizePii } = await import("../../shared/pii/index.ts");
  const stats = { unknownNumbers: 0, unknownNumberItems: 0, duplicatesInPayload: 0 };
  const unknown = new Set<string>();
  // (distributor, wa_id) → profile name; messages and statuses with their account.
  const people = new Map<string, { distributorId: string; waId: string; name: string | null }>();
  const messages: { account: WhatsAppAccount; m: InboundMessage }[] = [];
  const seenMessages = new Set<string>();
  const statuses = new Map<string, StatusRow>();

  for (const b of delivery.batches) {
    const account = accounts.get(b.phoneNumberId);
    if (!account) {
      unknown.add(b.phoneNumberId);
      stats.unknownNumberItems += b.messages.length + b.statuses.length;
      continue;
    }
    const d = account.distributorId;
    for (const [waId, name] of b.contacts) {
      const k = key(d, waId);
      const prev = people.get(k);
      if (!prev || (!prev.name && name)) people.set(k, { distributorId: d, waId, name: name ?? prev?.name ?? null });
    }
    for (const m of b.messages) {
      const k = key(d, m.externalId);
      if (seenMessages.has(k)) {
        stats.duplicatesInPayload++;
        continue;
      }
      seenMessages.add(k);
      messages.push({ account, m });
      const pk = key(d, m.from);
      if (!people.has(pk)) people.set(pk, { distributorId: d, waId: m.from, name: b.contacts.get(m.from) ?? null });
    }
    for (const s of b.statuses) {
      // Several statuses for one message in one delivery: the furthest one wins.
      const k = key(d, s.externalId);
      const rank = STATUS_RANK[s.status];
      const prev = statuses.get(k);
      if (prev && prev.rank >= rank) continue;
      statuses.set(k, {
        distributor_id: d, external_id: s.externalId, status: s.status, rank,
        error_code: s.errorCode, error_title: s.errorTitle, status_at: s.timestamp?.toISOString() ?? null,
      });
    }
  }
  stats.unknownNumbers = unknown.size;

  // Keys per distributor (cached by the key cache), then hashes and sealing concurrently.
  const distributorIds = new Set([...people.values()].map((p) => p.distributorId));
  const keys = new Map(await Promise.all([...distributorIds].map(async (d) => [d, await keysFor(d)] as const)));

  const hashes = new Map<string, string>();
  const customersP = Promise.all([...people.entries()].map(async ([k, p]) => {
    const dk = keys.get(p.distributorId)!;
    const id = crypto.randomUUID();
    const [hash, sealed] = await Promise.all([
      phoneLookupHash(dk, p.waId),
      sealCustomerContact(dk, id, { name: p.name, phone: p.waId, wa_id: p.waId }),
    ]);
    hashes.set(k, hash);
    return { id, distributor_id: p.distributorId, wa_id_hash: hash, ...sealed } satisfies CustomerRow;
  }));

  const messagesP = Promise.all(messages.map(async ({ account, m }) => {
    const id = crypto.randomUUID();
    const text = messageText(m.content);
    const found = detectPii(text);
    const extra = extraPiiText(m.content);
    const all = extra ? [...found, ...detectPii(extra)] : found;
    const summary = summarizePii(all);
    const dk = keys.get(account.distributorId)!;
    // The preview is sealed too, bound to this message (a conversation's preview is read from
    // its latest message: nothing sealed is copied between rows).
    const [sealed, preview] = await Promise.all([
      sealMessageContent(dk, id, m.content),
      sealPreview(dk, id, buildPreview(found.length > 0 ? maskPii(text).masked : text, m.messageType)),
    ]);
    return {
      id,
      distributor_id: account.distributorId,
      wa_id_hash: "", // filled in below, once the hashes are known
      whatsapp_account_id: account.id,
      external_id: m.externalId,
      message_type: m.messageType,
      ...sealed,
      preview,
      has_pii: all.length > 0,
      external_timestamp: (m.timestamp ?? now).toISOString(),
      pii_types: summary.types as string[],
      pii_counts: summary.counts as Record<string, number>,
      from: m.from,
    };
  }));

  const [customers, sealedMessages] = await Promise.all([customersP, messagesP]);

  // Conversations: one per (distributor, customer); the latest message gives the time.
  const conversations = new Map<string, ConversationRow>();
  const messageRows: MessageRow[] = sealedMessages.map(({ from, ...row }) => {
    row.wa_id_hash = hashes.get(key(row.distributor_id, from))!;
    const k = key(row.distributor_id, row.wa_id_hash);
    const prev = conversations.get(k);
    if (!prev || row.external_timestamp! >= prev.last_message_at) {
      conversations.set(k, {
        id: prev?.id ?? crypto.randomUUID(), distributor_id: row.distributor_id, wa_id_hash: row.wa_id_hash,
        whatsapp_account_id: row.whatsapp_account_id, last_message_at: row.external_timestamp!,
      });
    }
    return row;
  });

  return {
    customers: customers.sort((a, b) => cmp(a.distributor_id, b.distributor_id) || cmp(a.wa_id_hash, b.wa_id_hash)),
    conversations: [...conversations.values()],
    messages: messageRows.sort((a, b) => cmp(a.distributor_id, b.distributor_id) || cmp(a.external_id, b.external_id)),
    statuses: [...statuses.values()].sort((a, b) => cmp(a.distributor_id, b.distributor_id) || cmp(a.external_id, b.external_id)),
    stats,
  };
}

/** A jsonb parameter (postgres.js serializes it; works with and without prepared statements). */
const json = (tx: Tx, v: unknown) => tx.json(v as never);

/** Write a prepared delivery inside the caller's transaction: two statements at most, pipelined. */
export async function storeDelivery(tx: Tx, p: PreparedDelivery): Promise<StoreResult> {
  const ingest = p.customers.length
    ? tx<{ inserted: number; pii: number; outbox: number }[]>`
      with cin as (
        select * from jsonb_to_recordset(${json(tx, p.customers)})
          as x(id uuid, distributor_id uuid, wa_id_hash text, contact_encrypted text, contact_iv text, key_version integer)
      ), c as (
        insert into public.customers as t (id, distributor_id, wa_id_hash, phone_hash, contact_encrypted, contact_iv, key_version)
        select id, distributor_id, wa_id_hash, wa_id_hash, contact_encrypted, contact_iv, key_version from cin
        on conflict (distributor_id, wa_id_hash) do update set updated_at = now()
        returning t.id, t.distributor_id, t.wa_id_hash
      ), vin as (
        select * from jsonb_to_recordset(${json(tx, p.conversations)})
          as x(id uuid, distributor_id uuid, wa_id_hash text, whatsapp_account_id uuid, last_message_at timestamptz)
      ), v as (
        insert into public.conversations as t (id, distributor_id, customer_id, whatsapp_account_id, channel, last_message_at)
        select vin.id, vin.distributor_id, c.id, vin.whatsapp_account_id, 'whatsapp', vin.last_message_at
        from vin join c on c.distributor_id = vin.distributor_id and c.wa_id_hash = vin.wa_id_hash
        order by vin.distributor_id, c.id
        on conflict (distributor_id, customer_id, channel) do update set
          whatsapp_account_id = coalesce(t.whatsapp_account_id, excluded.whatsapp_account_id),
          last_message_at = greatest(t.last_message_at, excluded.last_message_at),
          updated_at = now()
        returning t.id, t.distributor_id, t.customer_id
      ), min as (
        select * from jsonb_to_recordset(${json(tx, p.messages)})
          as x(id uuid, distributor_id uuid, wa_id_hash text, whatsapp_account_id uuid, external_id text, message_type text,
               content_encrypted text, content_iv text, key_version integer, preview text, has_pii boolean,
               external_timestamp timestamptz, pii_types text[], pii_counts jsonb)
      ), cv as (
        -- (distributor, sender) → conversation and customer: ten rows or so per delivery
        select c.distributor_id, c.wa_id_hash, v.id as conversation_id, v.customer_id
        from c join v on v.customer_id = c.id
      ), src as materialized (
        select min.*, cv.conversation_id, cv.customer_id
        from min join cv on cv.distributor_id = min.distributor_id and cv.wa_id_hash = min.wa_id_hash
      ), m as (
        insert into public.messages (id, distributor_id, conversation_id, channel, external_id, direction, message_type,
                                     content_encrypted, content_iv, key_version, preview, has_pii, status, external_timestamp)
        select id, distributor_id, conversation_id, 'whatsapp', external_id, 'inbound', message_type,
               content_encrypted, content_iv, key_version, preview, has_pii, 'received', external_timestamp
        from src
        order by distributor_id, external_id
        on conflict (distributor_id, channel, external_id) do nothing
        returning id
      ), ins as (
        -- the messages this delivery really inserted (not already stored): an array, so the
        -- two inserts below filter with = any() instead of joining row estimates the planner cannot know
        select coalesce(array_agg(id), '{}') as ids, count(*) = (select count(*) from src) as all_new from m
      ), p as (
        insert into public.pii_detection_results (distributor_id, message_id, pii_types, counts)
        select src.distributor_id, src.id, src.pii_types, src.pii_counts
        from src
        where src.has_pii and ((select all_new from ins) or src.id = any((select ids from ins)::uuid[]))
        returning 1
      ), o as (
        insert into public.event_outbox (distributor_id, event_type, payload)
        select src.distributor_id, 'message.received', jsonb_build_object(
                 'message_id', src.id, 'conversation_id', src.conversation_id, 'customer_id', src.customer_id,
                 'whatsapp_account_id', src.whatsapp_account_id, 'external_id', src.external_id, 'channel', 'whatsapp',
                 'direction', 'inbound', 'message_type', src.message_type, 'has_pii', src.has_pii,
                 'pii_types', to_jsonb(src.pii_types), 'pii_counts', src.pii_counts)
        from src
        where (select all_new from ins) or src.id = any((select ids from ins)::uuid[])
        order by src.distributor_id, src.external_id
        returning 1
      )
      select (select cardinality(ids) from ins)::int as inserted, (select count(*) from p)::int as pii, (select count(*) from o)::int as outbox`
    : null;

  // Statuses only move forward: the rank comparison is in the UPDATE itself, so a late "sent"
  // never downgrades "read", whatever order Meta's deliveries (or concurrent ones) arrive in.
  const status = p.statuses.length
    ? tx<{ applied: number; unknown: number }[]>`
      with s as (
        select * from jsonb_to_recordset(${json(tx, p.statuses)})
          as x(distributor_id uuid, external_id text, status text, rank integer, error_code text, error_title text, status_at timestamptz)
      ), u as (
        update public.messages t set
          status = s.status,
          error_code = case when s.status = 'failed' then s.error_code else t.error_code end,
          error_title = case when s.status = 'failed' then s.error_title else t.error_title end,
          status_updated_at = coalesce(s.status_at, now())
        from s
        where t.distributor_id = s.distributor_id and t.channel = 'whatsapp' and t.external_id = s.external_id
          and t.direction = 'outbound'
          and coalesce((${json(tx, STATUS_RANK)} ->> t.status)::integer, 0) < s.rank
        returning t.id, t.distributor_id, t.conversation_id, t.status
      ), o as (
        -- outbound webhooks (issue 14): ids and the new status only, in the same transaction
        insert into public.event_outbox (distributor_id, event_type, payload)
        select u.distributor_id, 'message.status_updated',
               jsonb_build_object('message_id', u.id, 'conversation_id', u.conversation_id, 'status', u.status, 'channel', 'whatsapp')
        from u
        returning 1
      )
      select (select count(*) from u)::int as applied, (select count(*) from o)::int as outbox,
             (select count(*) from s where not exists (
                select 1 from public.messages t
                where t.distributor_id = s.distributor_id and t.channel = 'whatsapp' and t.external_id = s.external_id
                  and t.direction = 'outbound'))::int as unknown`
    : null;

  const [i, s] = await Promise.all([ingest, status]);
  return {
    inserted: i?.[0].inserted ?? 0,
    piiResults: i?.[0].pii ?? 0,
    outbox: i?.[0].outbox ?? 0,
    statusesApplied: s?.[0].applied ?? 0,
    statusesUnknown: s?.[0].unknown ?? 0,
  };
}
