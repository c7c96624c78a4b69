/**
 * The scanner. One pass over the text, word by word:
 *  - '@' and ':' are located first with native indexOf (e-mail, IPv6 spans are claimed);
 *  - words without digits are skipped at once;
 *  - a number (digit chunk) is tokenised, its context looked up (bounded look-back),
 *    then tested as keyword-announced ID, SSN / IPv4 / card / phone, then street address;
 *  - a mixed word (letters + digits) is tested as IBAN, keyword-announced ID, house number.
 * All inner scans are bounded, so the total work is linear in the text length.
 */
import { CC, F_ALNUM, F_DIGIT, F_LETTER, F_LOWER, F_UPPER, isLetter, isNumSpace, isUniLetter, isWord } from "./chars.ts";
import { ibanValid } from "./checks.ts";
import { ctx, hasStreetSuffix, K_ADDRESS, K_POBOX, lookback } from "./context.ts";
import { findEmails } from "./email.ts";
import { idHit, idType, isIdClass, parseIdValue, skipFillers } from "./ids.ts";
import { findIPv6 } from "./ip.ts";
import { streetAfterNumber, streetTail } from "./address.ts";
import { classify, DASH, digitsIn, G, GE, GS, hit, isCut, leftGlued, prefixStart, rightGlue, SEP, SP, tokenize } from "./numeric.ts";
import { IBAN_LENGTHS, MONTHS, NAME_CONNECTORS, STREET_TYPES_LEADING } from "./tables.ts";
import type { PiiMatch, PiiType } from "./types.ts";

/** No rule accepts more than 7 digit groups (phones: 7, cards: 6, IPv4: 4, SSN: 3). */
const MAX_WINDOW = 7;
const ANCHOR_RE = /[0-9@:]/;
const DIGIT_RE = /[0-9]/;
const DIGIT_G = /[0-9]/g;

let T = "";
let found: PiiMatch[] = [];
/** Look-backs never go before this offset (end of the last thing we handled). */
let floor = 0;

function emit(type: PiiType, start: number, end: number, score: number): void {
  found.push({ type, start, end, score });
  if (end > floor) floor = end;
}

// ---------------------------------------------------------------------------
const ibanBuf = new Uint16Array(40);
const IBAN_LEN = new Uint8Array(128 * 128);
for (const [cc, len] of Object.entries(IBAN_LENGTHS)) IBAN_LEN[cc.charCodeAt(0) * 128 + cc.charCodeAt(1)] = len;

/** Countries whose BBAN is digits only: a letter after the check digits fails at once. */
const NUMERIC_BBAN = new Uint8Array(128 * 128);
for (const cc of "AT BE BA CZ DE DK EE ES FI FO GL HR HU IL LT ME NO PL PT RS SE SI SK TN XK".split(" ")) {
  NUMERIC_BBAN[cc.charCodeAt(0) * 128 + cc.charCodeAt(1)] = 1;
}

function upper(c: number): number {
  return c >= 97 && c <= 122 ? c - 32 : c;
}

/** IBAN starting at i (two letters, two digits); compact or grouped with single spaces/dashes. */
function iban(t: string, i: number): number {
  const a = upper(t.charCodeAt(i));
  const b = upper(t.charCodeAt(i + 1));
  if (a > 127 || b > 127) return -1;
  const L = IBAN_LEN[a * 128 + b];
  if (L === 0) return -1;
  const n = t.length;
  const numeric = NUMERIC_BBAN[a * 128 + b] === 1;
  let pos = i;
  let len = 0;
  while (len < L && pos < n) {
    const c = t.charCodeAt(pos);
    if (c < 128 && (CC[c] & F_ALNUM) !== 0) {
      if (numeric && len >= 4 && (CC[c] & F_DIGIT) === 0) return -1;
      ibanBuf[len++] = upper(c);
      pos++;
    } else if ((isNumSpace(c) || c === 45) && len > 0 && pos + 1 < n && c !== t.charCodeAt(pos - 1)) {
      const d = t.charCodeAt(pos + 1);
      if (d >= 128 || (CC[d] & F_ALNUM) === 0) break;
      pos++;
    } else break;
  }
  if (len !== L || (pos < n && isWord(t.charCodeAt(pos)))) {
    if (len >= 12) ibanSkip = pos; // an IBAN with a typo: do not read its digits as a phone
    return -1;
  }
  if (ibanValid(ibanBuf, L)) return pos;
  ibanSkip = pos;
  return -1;
}
/** End of a malformed IBAN-shaped run that the scanner should skip, or -1. */
let ibanSkip = -1;

// ---------------------------------------------------------------------------
function tryIdContext(p: number): number {
  if (!isIdClass(ctx.cls)) return -1;
  const v = skipFillers(T, ctx.kwEnd, p);
  if (!parseIdValue(T, ctx.cls, v, p)) return -1;
  emit(idType(ctx.cls), idHit.start, idHit.end, idHit.score);
  return idHit.end;
}

/** House number ending at numEnd, starting at numStart: look for a street around it. */
function tryAddress(numStart: number, numEnd: number, digits: number): number {
  if (ctx.street >= 0 && digits <= 4) {
    const end = streetTail(T, numEnd);
    emit("STREET_ADDRESS", ctx.street, end, 0.8);
    return end;
  }
  if (ctx.cls === K_POBOX) {
    const end = streetTail(T, numEnd);
    emit("STREET_ADDRESS", ctx.kwStart, end, 0.85);
    return end;
  }
  const se = streetAfterNumber(T, numEnd, ctx.cls === K_ADDRESS);
  if (se < 0) return -1;
  const end = streetTail(T, se);
  emit("STREET_ADDRESS", numStart, end, 0.8);
  return end;
}

/** Whether a number ending at j may continue into a longer number, a street or a date. */
function mayContinue(t: string, j: number): boolean {
  const n = t.length;
  if (j + 1 >= n) return false;
  const c = t.charCodeAt(j);
  const d = t.charCodeAt(j + 1);
  if (isNumSpace(c) || c === 45 || c === 46 || c === 47 || c === 41 || c === 0x2013) {
    if (isWord(d)) return true;
    // "1 (555)", ") 555", "-(0)", " +44"
    return (d === 40 || d === 43 || isNumSpace(d) || d === 45) && j + 2 < n && isDigitCode(t.charCodeAt(j + 2));
  }
  if (c === 40) return isDigitCode(d);
  return false;
}

/** A space, or "-Mar" / ".März" / "/Jan" after a number. */
function spaceOrMonthAfter(t: string, ce: number): boolean {
  if (ce >= t.length) return false;
  const c = t.charCodeAt(ce);
  if (isNumSpace(c)) return true;
  return (c === 45 || c === 46 || c === 47) && ce + 1 < t.length && isWord(t.charCodeAt(ce + 1)) &&
    !isDigitCode(t.charCodeAt(ce + 1));
}

function isDigitCode(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isUpperAscii(c: number): boolean {
  return c >= 65 && c <= 90;
}

/** Whether a month name starts at p ("March", "Mar.", "März"). */
function monthAt(t: string, p: number): boolean {
  let k = p;
  while (k < t.length && isWord(t.charCodeAt(k))) k++;
  return MONTHS.has(t, p, k);
}

/**
 * Whether the words before p could make a number part of a street ("Hauptstraße 5", "Via Roma 10")
 * or of an identifier with a letter prefix ("QQ 12 34 56 C") or of a date ("June 5, 1991"): the
 * nearest word is short and capitalised, a month or has a street suffix, or one of the three nearest
 * words is a leading street type.
 */
function streetOrPrefixBefore(t: string, p: number): boolean {
  let k = p - 1;
  for (let w = 0; w < 4; w++) {
    while (k >= floor && k > p - 40 && !isWord(t.charCodeAt(k))) k--;
    if (k < floor || k <= p - 40) return false;
    const we = k + 1;
    while (k >= floor && isWord(t.charCodeAt(k))) k--;
    const ws = k + 1;
    const c = t.charCodeAt(ws);
    if (!(c < 128 ? (CC[c] & F_UPPER) !== 0 : isUniLetter(c))) {
      if (w > 0 && NAME_CONNECTORS.has(t, ws, we)) continue; // "Calle de Alcalá 42"
      return false;
    }
    if (w === 0) {
      if (we - ws <= 3) return true;
      if (hasStreetSuffix(t, ws, we) || MONTHS.has(t, ws, we)) return true; // "Hauptstraße 5", "June 5, 1991"
    }
    if (STREET_TYPES_LEADING.has(t, ws, we)) return true;
  }
  return false;
}

function digitChunk(i: number): number {
  const t = T;
  const ce = tokenize(t, i);
  // a lone number of at most 3 digits not followed by a space ("10:30", "$5,", "x3.") can only
  // matter as part of a keyword-announced ID ("QQ 12 34 56 C") or a street ("Via Roma 10,"),
  // both of which need a capitalised word right before it
  if (G === 1 && ce - i <= 3 && !leftGlued && rightGlue === 0 && !streetOrPrefixBefore(t, prefixStart)) {
    if (!spaceOrMonthAfter(t, ce)) return ce;
    // "12 Main Street" / "3 Large Boxes" / "1 passport": a short number followed by a word is a house
    // number or nothing, unless the word is a month ("3 March 1985" may be a date of birth)
    if (ce + 1 < t.length && isNumSpace(t.charCodeAt(ce)) && isLetter(t.charCodeAt(ce + 1)) &&
      t.charCodeAt(i) !== 48 && !monthAt(t, ce + 1)) {
      if (isUpperAscii(t.charCodeAt(ce + 1))) {
        const se = streetAfterNumber(t, ce, false);
        if (se < 0) return ce;
        const end = streetTail(t, se);
        emit("STREET_ADDRESS", i, end, 0.8);
        return end;
      }
      // lower case: only an address announced by a keyword is possible; check the form first
      if (streetAfterNumber(t, ce, true) < 0) return ce;
    }
  }
  lookback(t, prefixStart, floor, GE[0] - GS[0] <= 4 && (G === 1 || (SEP[0] & (SP | DASH)) !== 0));
  const idEnd = tryIdContext(i);
  if (idEnd > 0) return idEnd > ce ? idEnd : ce;

  let resume = ce;
  let any = false;
  let matchedUpTo = 0;
  const last = G - 1;
  let s = 0;
  while (s <= last) {
    const validStart = s === 0 ? !leftGlued : isCut(SEP[s - 1]);
    if (validStart) {
      let e = s + MAX_WINDOW - 1 < last ? s + MAX_WINDOW - 1 : last;
      let matched = false;
      for (; e >= s; e--) {
        if (e < last && !isCut(SEP[e])) continue;
        const D = digitsIn(s, e);
        if (D < 4) break;
        if (D > 19 || (D < 7 && e - s !== 3)) continue; // only IPv4 has fewer than 7 digits
        let colonAfter = false;
        if (e === last && rightGlue !== 0) {
          if (rightGlue !== 2) continue;
          colonAfter = true;
        }
        if (classify(s, e, colonAfter)) {
          emit(hit.type, hit.start, hit.end, hit.score);
          any = true;
          matched = true;
          matchedUpTo = e + 1;
          break;
        }
      }
      if (matched) {
        s = e + 1;
        continue;
      }
    }
    s++;
  }
  const L = G - 1;
  if (any && L >= matchedUpTo && (SEP[L - 1] & SP) !== 0 && rightGlue === 0 && GE[L] - GS[L] <= 5 &&
    t.charCodeAt(GS[L]) !== 48) {
    // "192.168.0.1 10 Downing Street": a house number after a match in the same chunk
    const r = tryAddress(GS[L], GE[L], GE[L] - GS[L]);
    if (r > resume) resume = r;
  } else if (!any && !leftGlued) {
    // house number: 12, 1600, 12-14 (the next group may start the street name: "350 5th Ave")
    const d0 = GE[0] - GS[0];
    let numEnd = -1;
    if (G >= 2 && SEP[0] === DASH && d0 <= 5 && GE[1] - GS[1] <= 5 && (G === 2 ? rightGlue === 0 : SEP[1] === SP)) {
      numEnd = GE[1];
    } else if (d0 <= 5 && (G === 1 ? rightGlue === 0 : SEP[0] === SP)) numEnd = GE[0];
    if (numEnd > 0 && t.charCodeAt(i) !== 48) {
      const r = tryAddress(i, numEnd, d0);
      if (r > resume) resume = r;
    }
  }
  if (resume > floor) floor = resume;
  return resume;
}

function mixedWord(i: number, j: number, flags: number): number {
  const t = T;
  // IBAN: two letters + two digits
  if (j - i >= 4 && (CC[t.charCodeAt(i)] & F_LETTER) !== 0 && (CC[t.charCodeAt(i + 1)] & F_LETTER) !== 0 &&
    (CC[t.charCodeAt(i + 2)] & F_DIGIT) !== 0 && (CC[t.charCodeAt(i + 3)] & F_DIGIT) !== 0) {
    ibanSkip = -1;
    const r = iban(t, i);
    if (r > 0) {
      emit("IBAN", i, r, 0.99);
      return r;
    }
    if (ibanSkip > 0) {
      if (ibanSkip > floor) floor = ibanSkip;
      return ibanSkip;
    }
  }
  // house number with a letter: 221B, 12a
  let house = -1;
  if (j - i <= 6 && (flags & F_LETTER) !== 0 && t.charCodeAt(i) !== 48) {
    let k = i;
    while (k < j && (CC[t.charCodeAt(k)] & F_DIGIT) !== 0) k++;
    if (k > i && k === j - 1) house = k - i;
  }
  lookback(t, i, floor, house > 0 && house <= 4);
  const idEnd = tryIdContext(i);
  if (idEnd > 0) return idEnd > j ? idEnd : j;
  if (house > 0) {
    const r = tryAddress(i, j, house);
    if (r > j) {
      floor = r;
      return r;
    }
  }
  if (j > floor) floor = j;
  return j;
}

function byStart(a: PiiMatch, b: PiiMatch): number {
  return a.start - b.start || b.end - a.end;
}

function rank(m: PiiMatch): number {
  return m.type === "EMAIL" || m.type === "IBAN" ? 3 : m.type === "IP_ADDRESS" && m.score >= 0.95 ? 2 : 1;
}

const EMPTY: PiiMatch[] = [];

/** All matches, sorted by start, non-overlapping, not yet filtered by options. */
export function scan(text: string): PiiMatch[] {
  const n = text.length;
  if (n === 0) return EMPTY;
  // one native scan decides whether there is anything to look at
  const first = text.search(ANCHOR_RE);
  if (first < 0) return EMPTY;
  const at = text.indexOf("@", first);
  const colon = text.indexOf(":", first);
  const firstDigit = (at < 0 || at > first) && (colon < 0 || colon > first) ? first : text.search(DIGIT_RE);
  const hasDigit = firstDigit >= 0;
  T = text;
  found = [];
  floor = 0;
  let claims = EMPTY;
  if (at >= 0) findEmails(text, at, found);
  // an IPv6 address has at least two colons
  if (colon >= 0 && text.indexOf(":", colon + 1) > 0) {
    const emails = found.length > 0 ? found.slice() : EMPTY;
    findIPv6(text, colon, found, emails);
    if (found.length > 1 && emails.length > 0) found.sort(byStart);
  }
  if (found.length > 0) claims = found.slice();
  if (hasDigit) {
    let ci = 0;
    let cs = claims.length > 0 ? claims[0].start : n + 1;
    let i = firstDigit;
    // `lo`: everything before it has been handled
    let lo = 0;
    outer: while (i < n) {
      // next digit (native regex scan; words without digits are never looked at)
      const c0 = text.charCodeAt(i);
      if (c0 < 48 || c0 > 57) {
        const c1 = i + 1 < n ? text.charCodeAt(i + 1) : 0;
        if (c1 >= 48 && c1 <= 57) i++;
        else {
          DIGIT_G.lastIndex = i;
          if (!DIGIT_G.test(text)) break outer;
          i = DIGIT_G.lastIndex - 1;
        }
      }
      if (i >= cs) {
        while (ci < claims.length && claims[ci].end <= i) ci++;
        if (ci < claims.length && claims[ci].start <= i) {
          i = lo = claims[ci].end;
          if (i > floor) floor = i;
          ci++;
        }
        cs = ci < claims.length ? claims[ci].start : n + 1;
        if (i === lo) continue;
      }
      // the word around this digit
      let ws = i;
      while (ws > lo && isWord(text.charCodeAt(ws - 1))) ws--;
      let fl = ws < i ? F_LETTER | F_DIGIT : F_DIGIT;
      let j = i + 1;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d < 128) {
          const f = CC[d];
          if ((f & F_ALNUM) === 0) break;
          fl |= f;
        } else if (isUniLetter(d)) fl |= F_LOWER;
        else break;
        j++;
      }
      if ((fl & F_LETTER) === 0) {
        // fast path: a lone number of at most 3 digits followed by punctuation ("10:30", "$5,", "x 3)")
        if (j - ws <= 3 && !mayContinue(text, j) && !streetOrPrefixBefore(text, ws)) i = j;
        else i = digitChunk(ws);
      } else i = mixedWord(ws, j, fl);
      if (i < j) i = j;
      lo = i;
    }
  }
  const res = found;
  T = "";
  if (res.length < 2) return res.length === 0 ? EMPTY : res;
  let sorted = true;
  for (let k = 1; k < res.length; k++) {
    if (res[k].start < res[k - 1].start) {
      sorted = false;
      break;
    }
  }
  if (!sorted) res.sort(byStart);
  // overlaps: keep the stronger (e-mail/IBAN/IPv6 first), then the longer
  const out: PiiMatch[] = [res[0]];
  for (let k = 1; k < res.length; k++) {
    const m = res[k];
    const prev = out[out.length - 1];
    if (m.start >= prev.end) out.push(m);
    else if (rank(m) > rank(prev) || (rank(m) === rank(prev) && m.end - m.start > prev.end - prev.start)) {
      out[out.length - 1] = m;
      while (out.length > 1 && out[out.length - 2].end > m.start) out.splice(out.length - 2, 1);
    }
  }
  return out;
}
