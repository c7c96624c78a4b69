/**
 * Values announced by a context keyword: passport, national ID, driver's licence,
 * medical record numbers, SSNs without dashes and dates of birth.
 */
import { CC, F_DIGIT, F_LETTER, F_UPPER, isDigit, isLetter, isNumSpace, isSpace, isWord, WordSet } from "./chars.ts";
import { ssnValid } from "./checks.ts";
import { K_DL, K_DOB, K_MEDICAL, K_NATIONAL_ID, K_PASSPORT, K_SSN } from "./context.ts";
import { MONTHS } from "./tables.ts";
import type { PiiType } from "./types.ts";

const FILLERS = new WordSet([
  "number", "numbers", "no", "nr", "num", "nbr", "is", "was", "are", "be", "id", "of", "on", "the", "my", "his",
  "her", "their", "card", "code", "reads", "s", "details", "info", "date", "registered", "as",
]);

export function isIdClass(cls: number): boolean {
  return cls >= K_SSN && cls <= K_MEDICAL;
}

export function idType(cls: number): PiiType {
  switch (cls) {
    case K_SSN:
      return "SSN";
    case K_PASSPORT:
      return "PASSPORT";
    case K_DOB:
      return "DATE_OF_BIRTH";
    case K_NATIONAL_ID:
      return "NATIONAL_ID";
    case K_DL:
      return "DRIVERS_LICENSE";
    default:
      return "MEDICAL_RECORD";
  }
}

/** Output of `parseIdValue`. */
export const idHit = { start: 0, end: 0, score: 0 };

/** Skips punctuation and filler words ("number", "no.", "is", ":") after a keyword. */
export function skipFillers(t: string, pos: number, limit: number): number {
  let fillers = 0;
  while (pos < limit) {
    const c = t.charCodeAt(pos);
    if (isSpace(c) || c === 58 || c === 35 || c === 45 || c === 61 || c === 46 || c === 44 || c === 40 || c === 41 ||
      c === 39 || c === 0x2019 || c === 0xba) {
      pos++;
      continue;
    }
    if (isLetter(c)) {
      let we = pos + 1;
      while (we < t.length && isLetter(t.charCodeAt(we))) we++;
      if (fillers < 5 && FILLERS.has(t, pos, we)) {
        fillers++;
        pos = we;
        continue;
      }
    }
    return pos;
  }
  return pos;
}

function asciiFlags(c: number): number {
  return c < 128 ? CC[c] : 0;
}

/**
 * Generic identifier: alphanumeric groups joined by '-', '.', '/' or single spaces
 * ("QQ 12 34 56 C", "S123-456-78-901-0", "123.456.789-09", "P-884213").
 */
function genericId(t: string, v: number, min: number, max: number): number {
  const n = t.length;
  let pos = v;
  let total = 0;
  let digits = 0;
  // first group
  let f = 0;
  while (pos < n) {
    const fl = asciiFlags(t.charCodeAt(pos));
    if ((fl & (F_DIGIT | F_LETTER)) === 0) break;
    f |= fl;
    if (fl & F_DIGIT) digits++;
    pos++;
  }
  total = pos - v;
  if (total === 0 || total > max) return -1;
  if (pos < n && isWord(t.charCodeAt(pos))) return -1;
  if ((f & F_DIGIT) === 0) {
    // letters-only prefix such as "QQ" or "P": short and upper-case
    if (total > 3) return -1;
    for (let k = v; k < pos; k++) if ((asciiFlags(t.charCodeAt(k)) & F_UPPER) === 0) return -1;
  }
  let lastGroup = v;
  for (;;) {
    if (pos + 1 >= n) break;
    const c = t.charCodeAt(pos);
    const q = pos + 1;
    let ge = q;
    let gd = 0;
    let gu = 0;
    while (ge < n) {
      const fl = asciiFlags(t.charCodeAt(ge));
      if ((fl & (F_DIGIT | F_LETTER)) === 0) break;
      if (fl & F_DIGIT) gd++;
      if (fl & F_UPPER) gu++;
      ge++;
    }
    const gl = ge - q;
    if (gl === 0 || (ge < n && isWord(t.charCodeAt(ge)))) break;
    let take = false;
    if (c === 45 || c === 46 || c === 47) take = true;
    else if (isNumSpace(c)) {
      if (gd > 0 && gd === gl && (gl >= 3 || (gl === 2 && pos - lastGroup === 2))) take = true; // "943 476 5919", "12 34 56"
      else if (gd > 0 && digits === 0) take = true; // after a letter prefix: "QQ 12"
      else if (gl === 1 && gu === 1 && digits > 0) take = true; // NI suffix letter: "56 C"
    }
    if (!take) break;
    if (total + gl > max) return -1;
    lastGroup = q;
    total += gl;
    digits += gd;
    pos = ge;
  }
  if (total < min || digits < 2) return -1;
  return pos;
}

function ssnAt(t: string, v: number): number {
  const n = t.length;
  let pos = v;
  const d: number[] = [];
  let seps = 0;
  let sepChar = -1;
  while (pos < n && d.length < 9) {
    const c = t.charCodeAt(pos);
    if (isDigit(c)) {
      d.push(c - 48);
      pos++;
    } else if ((c === 45 || c === 32) && (d.length === 3 || d.length === 5) && (sepChar < 0 || sepChar === c)) {
      sepChar = c;
      seps++;
      pos++;
    } else break;
  }
  if (d.length !== 9 || (seps !== 0 && seps !== 2)) return -1;
  if (pos < n && isWord(t.charCodeAt(pos))) return -1;
  if (!ssnValid(d[0] * 100 + d[1] * 10 + d[2], d[3] * 10 + d[4], d[5] * 1000 + d[6] * 100 + d[7] * 10 + d[8])) return -1;
  return pos;
}

// --- dates -----------------------------------------------------------------
let cur = 0;
function num(t: string, pos: number, minLen: number, maxLen: number): number {
  let v = 0;
  let k = pos;
  while (k < t.length && k - pos < maxLen && isDigit(t.charCodeAt(k))) v = v * 10 + t.charCodeAt(k++) - 48;
  if (k - pos < minLen || (k < t.length && isDigit(t.charCodeAt(k)))) return -1;
  cur = k;
  return v;
}
function month(t: string, pos: number): number {
  let k = pos;
  while (k < t.length && isLetter(t.charCodeAt(k))) k++;
  if (k === pos) return -1;
  const m = MONTHS.get(t, pos, k);
  if (m === undefined) return -1;
  cur = k;
  if (k < t.length && t.charCodeAt(k) === 46) cur = k + 1; // "Mar."
  return m;
}
function yearOk(y: number, len: number): boolean {
  return len === 2 || (y >= 1900 && y <= 2099);
}
function endOk(t: string, pos: number): boolean {
  return pos >= t.length || !isWord(t.charCodeAt(pos));
}
function skipOrdinal(t: string, pos: number): number {
  if (pos + 1 < t.length) {
    const a = t.charCodeAt(pos) | 32;
    const b = t.charCodeAt(pos + 1) | 32;
    if ((a === 115 && b === 116) || (a === 110 && b === 100) || (a === 114 && b === 100) || (a === 116 && b === 104)) {
      return pos + 2;
    }
  }
  return pos;
}
function space(t: string, pos: number): number {
  if (pos < t.length && t.charCodeAt(pos) === 44) pos++;
  if (pos < t.length && isNumSpace(t.charCodeAt(pos))) return pos + 1;
  return -1;
}

/** A complete calendar date starting at pos (numeric or with a month name); returns its end or -1. */
export function dateAt(t: string, pos: number): number {
  const n = t.length;
  if (pos >= n) return -1;
  if (isDigit(t.charCodeAt(pos))) {
    const a0 = pos;
    const a = num(t, pos, 1, 4);
    if (a < 0) return -1;
    const aLen = cur - a0;
    let p = cur;
    const sep = p < n ? t.charCodeAt(p) : 0;
    if (sep === 47 || sep === 45 || sep === 46) {
      // numeric: 01/02/1985, 1985-02-01, 01.02.85, 03-Mar-1985
      p++;
      let b = num(t, p, 1, 2);
      if (b < 0) {
        b = month(t, p);
        if (b < 0) return -1;
      }
      p = cur;
      if (p >= n || t.charCodeAt(p) !== sep) return -1;
      const c0 = p + 1;
      const c = num(t, c0, 2, 4);
      if (c < 0) return -1;
      const cLen = cur - c0;
      if (!endOk(t, cur)) return -1;
      if (aLen === 4) {
        if (!yearOk(a, 4) || b < 1 || b > 12 || c < 1 || c > 31 || cLen > 2) return -1;
      } else {
        if (aLen > 2 || (cLen !== 2 && cLen !== 4) || !yearOk(c, cLen)) return -1;
        if (!((a >= 1 && a <= 31 && b >= 1 && b <= 12) || (a >= 1 && a <= 12 && b >= 1 && b <= 31))) return -1;
      }
      return cur;
    }
    // 3 March 1985, 3rd of March, 1985, 3. März 1985
    if (aLen > 2 || a < 1 || a > 31) return -1;
    p = skipOrdinal(t, p);
    if (p < n && t.charCodeAt(p) === 46) p++;
    p = space(t, p);
    if (p < 0) return -1;
    if (p + 3 < n && (t.charCodeAt(p) | 32) === 111 && (t.charCodeAt(p + 1) | 32) === 102 && t.charCodeAt(p + 2) === 32) p += 3;
    if (month(t, p) < 0) return -1;
    p = space(t, cur);
    if (p < 0) return -1;
    const y0 = p;
    const y = num(t, p, 4, 4);
    if (y < 0 || !yearOk(y, cur - y0) || !endOk(t, cur)) return -1;
    return cur;
  }
  // March 3, 1985
  if (month(t, pos) < 0) return -1;
  let p = space(t, cur);
  if (p < 0) return -1;
  const d = num(t, p, 1, 2);
  if (d < 1 || d > 31) return -1;
  p = skipOrdinal(t, cur);
  p = space(t, p);
  if (p < 0) return -1;
  const y0 = p;
  const y = num(t, p, 4, 4);
  if (y < 0 || !yearOk(y, cur - y0) || !endOk(t, cur)) return -1;
  return cur;
}

/** Start of the word directly before position p (a month name in "March 3, 1985"), or -1. */
function wordBefore(t: string, p: number): number {
  let k = p - 1;
  if (k < 0 || !isNumSpace(t.charCodeAt(k))) return -1;
  k--;
  if (k >= 0 && t.charCodeAt(k) === 46) k--;
  const e = k + 1;
  while (k >= 0 && isLetter(t.charCodeAt(k))) k--;
  return k + 1 < e ? k + 1 : -1;
}

/**
 * Parses the value announced by keyword class `cls`. v: first non-filler position
 * after the keyword; p: the anchor (the number that triggered the look-back).
 * The value must contain the anchor. Fills `idHit`.
 */
export function parseIdValue(t: string, cls: number, v: number, p: number): boolean {
  let s = -1;
  let e = -1;
  switch (cls) {
    case K_SSN:
      for (const start of v === p ? [p] : [v, p]) {
        const r = ssnAt(t, start);
        if (r > p) {
          s = start;
          e = r;
          break;
        }
      }
      break;
    case K_DOB: {
      const mb = wordBefore(t, p);
      for (const start of [v, p, mb]) {
        if (start < 0 || start > p) continue;
        const r = dateAt(t, start);
        if (r > p) {
          s = start;
          e = r;
          break;
        }
      }
      break;
    }
    default: {
      const [min, max] = cls === K_PASSPORT ? [6, 12] : cls === K_MEDICAL ? [4, 24] : [5, 24];
      for (const start of v === p ? [p] : [v, p]) {
        const r = genericId(t, start, min, max);
        if (r > p) {
          s = start;
          e = r;
          break;
        }
      }
    }
  }
  if (s < 0) return false;
  idHit.start = s;
  idHit.end = e;
  idHit.score = 0.9;
  return true;
}

