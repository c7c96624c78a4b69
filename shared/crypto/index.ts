// AES-256-GCM with 12-byte random IVs, in the seed's storage format:
//   encrypted_value = base64(ciphertext || 16-byte tag), initialization_vector = base64(iv).
// New writes add additional authenticated data (AAD) naming the row they belong to and record
// the master-key version, so keys rotate without downtime and a copied ciphertext fails.
// Keys are imported once into a keyring; nothing is re-imported per call.
// AES-GCM runs through node:crypto (Node and Deno), synchronously: in Deno a WebCrypto call costs
// ~39 µs of CPU, mostly its async-op round trip, against ~7 µs here, for the same bytes
// (tests/unit/crypto.test.ts checks both ways against WebCrypto). The functions stay async.
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from "node:crypto";
import { base64ToBytes, bytesToBase64 } from "../encoding/index.ts";

export class DecryptError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "DecryptError";
  }
}

/** An imported AES-256 key (opaque). */
export type AesKey = KeyObject;

export interface Keyring {
  currentVersion: number;
  keys: ReadonlyMap<number, AesKey>;
}

export interface Sealed {
  encryptedValue: string;
  iv: string;
  keyVersion: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

export function hexToBytes(hex: string): Uint8Array<ArrayBuffer> {
  if (!/^[0-9a-fA-F]*$/.test(hex) || hex.length % 2) throw new Error("not hexadecimal");
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export { base64ToBytes, bytesToBase64 } from "../encoding/index.ts";

export async function importAesKey(raw: Uint8Array<ArrayBuffer>): Promise<AesKey> {
  if (raw.length !== 32) throw new Error("AES-256 keys are 32 bytes");
  return createSecretKey(raw);
}

/** The master keyring: the current key plus previous versions still accepted for reads. */
export async function createKeyring(current: { version: number; hex: string }, previous: { version: number; hex: string }[] = []): Promise<Keyring> {
  const keys = new Map<number, AesKey>();
  for (const k of [current, ...previous]) {
    if (!/^[0-9a-fA-F]{64}$/.test(k.hex)) throw new Error("master keys must be exactly 64 hexadecimal characters");
    keys.set(k.version, await importAesKey(hexToBytes(k.hex)));
  }
  return { currentVersion: current.version, keys };
}

export async function seal(keyring: Keyring, plaintext: string | Uint8Array<ArrayBuffer>, aad?: string): Promise<Sealed> {
  const key = keyring.keys.get(keyring.currentVersion)!;
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  if (aad !== undefined) cipher.setAAD(enc.encode(aad));
  const data = typeof plaintext === "string" ? enc.encode(plaintext) : plaintext;
  // WebCrypto's layout: ciphertext || 16-byte tag.
  const ct = concat(cipher.update(data), cipher.final(), cipher.getAuthTag());
  return { encryptedValue: bytesToBase64(ct), iv: bytesToBase64(iv), keyVersion: keyring.currentVersion };
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}

export async function openBytes(keyring: Keyring, sealed: Sealed, aad?: string): Promise<Uint8Array<ArrayBuffer>> {
  const key = keyring.keys.get(sealed.keyVersion);
  if (!key) throw new DecryptError("unknown key version");
  let iv: Uint8Array<ArrayBuffer>, ct: Uint8Array<ArrayBuffer>;
  try {
    iv = base64ToBytes(sealed.iv);
    ct = base64ToBytes(sealed.encryptedValue);
  } catch {
    throw new DecryptError("malformed base64");
  }
  if (iv.length !== 12 || ct.length < 16) throw new DecryptError("malformed ciphertext");
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, iv);
    if (aad !== undefined) decipher.setAAD(enc.encode(aad));
    decipher.setAuthTag(ct.subarray(ct.length - 16));
    return concat(decipher.update(ct.subarray(0, ct.length - 16)), decipher.final());
  } catch {
    throw new DecryptError("authentication failed");
  }
}

export async function open(keyring: Keyring, sealed: Sealed, aad?: string): Promise<string> {
  const bytes = await openBytes(keyring, sealed, aad);
  try {
    return dec.decode(bytes);
  } catch {
    throw new DecryptError("not UTF-8");
  }
}

/** Keyed hash (HMAC-SHA-256, hex) for finding encrypted values by equality without storing them. */
export async function createKeyedHasher(rawKey: Uint8Array<ArrayBuffer>): Promise<(value: string) => Promise<string>> {
  const key = await crypto.subtle.importKey("raw", rawKey, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return async (value: string) => {
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(value)));
    return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("");
  };
}

/** Constant-time comparison of two strings (the length may leak, the contents do not). */
export function timingSafeEqual(a: string, b: string): boolean {
  const x = enc.encode(a), y = enc.encode(b);
  const n = Math.max(x.length, y.length);
  let diff = x.length ^ y.length;
  for (let i = 0; i < n; i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}
