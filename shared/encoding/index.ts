// The one base64 / base64url codec (runtime-neutral: Deno and Node).
const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

export function bytesToBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** Throws on anything that is not base64. */
export function base64ToBytes(b64: string): Uint8Array<ArrayBuffer> {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

export const bytesToBase64Url = (bytes: Uint8Array): string =>
  bytesToBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

export const base64UrlToBytes = (s: string): Uint8Array<ArrayBuffer> => base64ToBytes(s.replace(/-/g, "+").replace(/_/g, "/"));

/** UTF-8 text as base64url (no padding). */
export const textToBase64Url = (text: string): string => bytesToBase64Url(enc.encode(text));

/** base64url back to UTF-8 text; throws on bad base64 or bad UTF-8. */
export const base64UrlToText = (s: string): string => dec.decode(base64UrlToBytes(s));
