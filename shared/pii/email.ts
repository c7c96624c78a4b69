/** E-mail addresses, found from each '@' (native indexOf), bounded scans left and right. */
import { CC, F_ALNUM, F_LETTER, F_LOCAL } from "./chars.ts";
import type { PiiMatch } from "./types.ts";

function isLocal(c: number): boolean {
  return c < 128 && (CC[c] & F_LOCAL) !== 0;
}
function isAlnum(c: number): boolean {
  return c < 128 && (CC[c] & F_ALNUM) !== 0;
}

/** Appends e-mail matches to out; `at` is the first '@' in t. */
export function findEmails(t: string, at: number, out: PiiMatch[]): void {
  const n = t.length;
  let minStart = 0;
  while (at >= 0) {
    // local part: at most 64 characters, never inside a previous match
    let s = at;
    while (s > minStart && at - s < 65 && isLocal(t.charCodeAt(s - 1))) s--;
    const ok = at - s < 65;
    while (s < at && !isAlnum(t.charCodeAt(s)) && t.charCodeAt(s) !== 95) s++; // leading . ' - +
    if (ok && s < at && t.charCodeAt(at - 1) !== 46) {
      // domain: labels of [A-Za-z0-9-] joined by single dots, at most 253 characters
      let pos = at + 1;
      let end = -1;
      let labelStart = pos;
      let dots = 0;
      const maxEnd = at + 1 + 253 < n ? at + 1 + 253 : n;
      for (;;) {
        labelStart = pos;
        while (pos < maxEnd) {
          const c = t.charCodeAt(pos);
          if (isAlnum(c) || c === 45) pos++;
          else break;
        }
        if (pos === labelStart || t.charCodeAt(labelStart) === 45) break;
        let le = pos;
        while (le > labelStart && t.charCodeAt(le - 1) === 45) le--;
        if (le !== pos) {
          pos = le;
          end = pos;
          break;
        }
        end = pos;
        if (pos + 1 < maxEnd && t.charCodeAt(pos) === 46 && isAlnum(t.charCodeAt(pos + 1))) {
          dots++;
          pos++;
          continue;
        }
        break;
      }
      if (pos >= maxEnd && maxEnd < n && isAlnum(t.charCodeAt(maxEnd))) end = -1; // absurdly long
      if (end > 0 && dots > 0) {
        // top-level domain: letters only, at least two
        let k = end - 1;
        while (k >= labelStart && (CC[t.charCodeAt(k)] & F_LETTER) !== 0) k--;
        if (k < labelStart && end - labelStart >= 2) {
          out.push({ type: "EMAIL", start: s, end, score: 0.99 });
          minStart = end;
        }
      }
    }
    at = t.indexOf("@", at + 1);
  }
}
