/** IPv6 addresses, found from each ':' (native indexOf). IPv4 lives in numeric.ts. */
import { CC, F_HEX, isDigit, isWord } from "./chars.ts";
import type { PiiMatch } from "./types.ts";

function isHexC(c: number): boolean {
  return c < 128 && (CC[c] & F_HEX) !== 0;
}
function isTok(c: number): boolean {
  return c === 58 || c === 46 || (c < 128 && (CC[c] & F_HEX) !== 0);
}

function ipv4Tail(t: string, s: number, e: number): boolean {
  let parts = 0;
  let k = s;
  while (k <= e) {
    const ps = k;
    let v = 0;
    while (k < e && isDigit(t.charCodeAt(k))) v = v * 10 + t.charCodeAt(k++) - 48;
    const l = k - ps;
    if (l === 0 || l > 3 || v > 255 || (l > 1 && t.charCodeAt(ps) === 48)) return false;
    parts++;
    if (k === e) break;
    if (t.charCodeAt(k) !== 46) return false;
    k++;
  }
  return parts === 4;
}

/** Strict RFC 4291 text form in t[s, e). */
export function validIPv6(t: string, s: number, e: number): boolean {
  let groups = 0;
  let dbl = false;
  let longest = 0;
  let digit = false;
  let pos = s;
  if (t.charCodeAt(pos) === 58) {
    if (t.charCodeAt(pos + 1) !== 58) return false;
    dbl = true;
    pos += 2;
    if (pos === e) return false;
  }
  for (;;) {
    const gs = pos;
    while (pos < e && isHexC(t.charCodeAt(pos))) {
      if (isDigit(t.charCodeAt(pos))) digit = true;
      pos++;
    }
    if (pos < e && t.charCodeAt(pos) === 46) {
      // embedded IPv4 must be last
      if (!ipv4Tail(t, gs, e)) return false;
      groups += 2;
      digit = true;
      longest = 4;
      break;
    }
    const l = pos - gs;
    if (l === 0 || l > 4) return false;
    if (l > longest) longest = l;
    groups++;
    if (pos === e) break;
    if (t.charCodeAt(pos) !== 58) return false;
    if (pos + 1 < e && t.charCodeAt(pos + 1) === 58) {
      if (dbl) return false;
      dbl = true;
      pos += 2;
      if (pos === e) break;
      continue;
    }
    pos++;
    if (pos === e) return false;
  }
  if (dbl ? groups > 7 : groups !== 8) return false;
  if (!digit) return false;
  // "1::2" or "a:b" style fragments are not addresses
  return groups >= 3 || longest >= 3;
}

/** Appends IPv6 matches; `colon` is the first ':' in t; spans in `skip` (sorted) are ignored. */
export function findIPv6(t: string, colon: number, out: PiiMatch[], skip: readonly PiiMatch[]): void {
  const n = t.length;
  let until = 0;
  let si = 0;
  while (colon >= 0) {
    while (si < skip.length && skip[si].end <= colon) si++;
    const inSkip = si < skip.length && skip[si].start <= colon;
    if (colon >= until && !inSkip) {
      const next = colon + 1 < n ? t.charCodeAt(colon + 1) : 0;
      if (isHexC(next) || next === 58) {
        let s = colon;
        while (s > until && isTok(t.charCodeAt(s - 1))) s--;
        let e = colon;
        while (e < n && isTok(t.charCodeAt(e))) e++;
        until = e;
        while (e > s && t.charCodeAt(e - 1) === 46) e--; // sentence dot
        // "fe80::1%eth0"
        let end = e;
        if (e < n && t.charCodeAt(e) === 37) {
          let k = e + 1;
          while (k < n && k - e <= 16 && isWord(t.charCodeAt(k))) k++;
          if (k > e + 1) end = k;
        }
        while (s < colon && t.charCodeAt(s) === 46) s++;
        const before = s > 0 ? t.charCodeAt(s - 1) : 32;
        const after = end < n ? t.charCodeAt(end) : 32;
        if (e - s >= 3 && e - s <= 45 && !isWord(before) && before !== 95 && !isWord(after) && after !== 95 &&
          validIPv6(t, s, e)) {
          out.push({ type: "IP_ADDRESS", start: s, end, score: 0.95 });
        }
      }
    }
    colon = t.indexOf(":", until > colon ? until : colon + 1);
  }
}
