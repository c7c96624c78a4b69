// Per-distributor keys. Each distributor has versioned data keys (AES-256-GCM, for message
// content, customer contact data, order notes, tokens) and one lookup key (HMAC, for keyed
// hashes that find a customer by phone without storing it). Keys are random, stored only
// wrapped by the master key, unwrapped once per instance and cached.
import {
  base64ToBytes, bytesToBase64, createKeyedHasher, importAesKey, open, seal, type AesKey, type Keyring, type Sealed,
} from "../crypto/index.ts";
import type { Sql, Tx } from "../db/index.ts";

export type KeyPurpose = "data" | "lookup";

export interface DistributorKeys {
  /** Data keys: every version, so old rows stay readable; new writes use the current one. */
  data: Keyring;
  /** HMAC-SHA-256 with the distributor's lookup key, hex. */
  hash: (value: string) => Promise<string>;
}

const wrapAad = (distributorId: string, purpose: KeyPurpose, version: number) =>
  `encryption_keys:${distributorId}:${purpose}:${version}`;

async function wrapNewKey(master: Keyring, distributorId: string, purpose: KeyPurpose, version: number): Promise<Sealed> {
  const raw = crypto.getRandomValues(new Uint8Array(32));
  const sealed = await seal(master, bytesToBase64(raw), wrapAad(distributorId, purpose, version));
  raw.fill(0);
  return sealed;
}

/** Create version 1 of both keys for a new distributor (service connection, inside its transaction). */
export async function createDistributorKeys(tx: Tx, master: Keyring, distributorId: string): Promise<void> {
  const [data, lookup] = await Promise.all([
    wrapNewKey(master, distributorId, "data", 1),
    wrapNewKey(master, distributorId, "lookup", 1),
  ]);
  await tx`insert into public.encryption_keys (distributor_id, purpose, version, wrapped_key, wrap_iv, master_key_version)
           values (${distributorId}, 'data', 1, ${data.encryptedValue}, ${data.iv}, ${data.keyVersion}),
                  (${distributorId}, 'lookup', 1, ${lookup.encryptedValue}, ${lookup.iv}, ${lookup.keyVersion})`;
}

/** Add a new data-key version and make it current; older versions stay for reading. */
export async function rotateDataKey(tx: Tx, master: Keyring, distributorId: string): Promise<number> {
  const [{ next }] = await tx<{ next: number }[]>`
    select coalesce(max(version), 0) + 1 as next from public.encryption_keys
    where distributor_id = ${distributorId} and purpose = 'data'`;
  const sealed = await wrapNewKey(master, distributorId, "data", next);
  await tx`update public.encryption_keys set status = 'retired'
           where distributor_id = ${distributorId} and purpose = 'data' and status = 'active'`;
  await tx`insert into public.encryption_keys (distributor_id, purpose, version, wrapped_key, wrap_iv, master_key_version)
           values (${distributorId}, 'data', ${next}, ${sealed.encryptedValue}, ${sealed.iv}, ${sealed.keyVersion})`;
  return next;
}

interface KeyRow {
  purpose: KeyPurpose;
  version: number;
  wrapped_key: string;
  wrap_iv: string;
  master_key_version: number;
  status: string;
}

/**
 * Unwrapped keys per distributor, cached. Key versions never change once written, so only the
 * "which version is current" answer can go stale; it is refreshed after `ttlMs` (a writer on a
 * stale instance uses the previous version, which stays readable everywhere).
 */
export class DistributorKeyCache {
  private cache = new Map<string, { keys: Promise<DistributorKeys>; at: number }>();
  constructor(private sql: Sql, private master: Keyring, private ttlMs = 60_000, private now = () => Date.now()) {}

  /**
   * Pass the caller's transaction when inside one: the keys are then read on that connection
   * (no second pool connection, which could starve a small pool or deadlock PGlite).
   */
  get(distributorId: string, tx?: Tx): Promise<DistributorKeys> {
    const hit = this.cache.get(distributorId);
    if (hit && this.now() - hit.at < this.ttlMs) return hit.keys;
    const keys = this.load(distributorId, tx ?? this.sql);
    this.cache.set(distributorId, { keys, at: this.now() });
    keys.catch(() => this.cache.delete(distributorId));
    return keys;
  }

  invalidate(distributorId: string): void {
    this.cache.delete(distributorId);
  }

  private async load(distributorId: string, q: Tx): Promise<DistributorKeys> {
    const rows = await q<KeyRow[]>`select * from private.distributor_wrapped_keys(${distributorId})`;
    const data = new Map<number, AesKey>();
    let current = 0;
    let hash: DistributorKeys["hash"] | null = null;
    for (const r of rows) {
      const b64 = await open(this.master, { encryptedValue: r.wrapped_key, iv: r.wrap_iv, keyVersion: r.master_key_version },
        wrapAad(distributorId, r.purpose, r.version));
      const raw = base64ToBytes(b64);
      if (r.purpose === "data") {
        data.set(r.version, await importAesKey(raw));
        if (r.status === "active") current = r.version;
      } else if (r.status === "active") {
        hash = await createKeyedHasher(raw);
      }
      raw.fill(0);
    }
    if (!current || !hash) throw new Error("distributor has no active keys");
    return { data: { currentVersion: current, keys: data }, hash };
  }
}

/** Seal a tenant value bound to its table and row. */
export function sealFor(keys: DistributorKeys, table: string, rowId: string, plaintext: string): Promise<Sealed> {
  return seal(keys.data, plaintext, `${table}:${rowId}`);
}

export function openFor(keys: DistributorKeys, table: string, rowId: string, sealed: Sealed): Promise<string> {
  return open(keys.data, sealed, `${table}:${rowId}`);
}


/**
 * Master-key rotation for distributor keys: re-wrap every key not wrapped by the master's
 * current version (the keys themselves do not change, so no tenant data is touched). Each row is
 * written only if it still holds what was read; a second run finds nothing to do.
 */
export async function rewrapDistributorKeys(
  sql: Sql, master: Keyring, opts: { distributorIds?: string[] } = {},
): Promise<{ rewrapped: number; failedIds: string[]; remaining: number }> {
  const scope = opts.distributorIds ? sql`and distributor_id = any(${opts.distributorIds}::uuid[])` : sql``;
  const failedIds: string[] = [];
  const rewrapped = await sql.begin(async (tx) => {
    const rows = await tx<(KeyRow & { id: string; distributor_id: string })[]>`
      select id, distributor_id, purpose, version, wrapped_key, wrap_iv, master_key_version, status
      from public.encryption_keys where master_key_version <> ${master.currentVersion} ${scope}
      order by id for update skip locked`;
    let n = 0;
    for (const r of rows) {
      const aad = wrapAad(r.distributor_id, r.purpose, r.version);
      let raw: string;
      try {
        raw = await open(master, { encryptedValue: r.wrapped_key, iv: r.wrap_iv, keyVersion: r.master_key_version }, aad);
      } catch {
        failedIds.push(r.id);
        continue;
      }
      const sealed = await seal(master, raw, aad);
      const done = await tx`
        update public.encryption_keys
        set wrapped_key = ${sealed.encryptedValue}, wrap_iv = ${sealed.iv}, master_key_version = ${sealed.keyVersion}
        where id = ${r.id} and wrapped_key = ${r.wrapped_key} returning id`;
      n += done.length;
    }
    return n;
  });
  const [{ remaining }] = await sql<{ remaining: number }[]>`
    select count(*)::int as remaining from public.encryption_keys where master_key_version <> ${master.currentVersion} ${scope}`;
  return { rewrapped, failedIds, remaining };
}
