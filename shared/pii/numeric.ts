/**
 * Numbers: a chunk is a run of digit groups joined by single separators
 * (space, '-', '.', '/', parentheses). We tokenise it once, then test
 * windows of consecutive groups (longest first, cut only at spaces and '/')
 * against the SSN, IPv4, payment card and phone rules. Every window holds at
 * most 8 groups, so the work per character is bounded.
 */
import { isDigit, isWord } from "./chars.ts";
import { cardIssuerOk, gs1, leadingDigits, luhn, ssnValid } from "./checks.ts";
import { ctx, K_CARD, K_NEG, K_NONE, K_PHONE, K_VERSION } from "./context.ts";
import { callingCodeLength, nsnRange } from "./tables.ts";
import type { PiiType } from "./types.ts";

export const SP = 1;
export const DASH = 2;
export const DOT = 4;
export const SLASH = 8;
export const CLOSE = 16;
export const OPEN = 32;

let cap = 64;
/** Group start/end offsets, separator after each group, digits before each group. */
export let GS = new Int32Array(cap);
export let GE = new Int32Array(cap);
export let SEP = new Uint8Array(cap);
let DS = new Int32Array(cap + 1);
/** Number of groups in the current chunk. */
export let G = 0;
/** Start of the chunk including a leading '+' or '('. */
export let prefixStart = 0;
export let plus = false;
let openFirst = false;
export let leftGlued = false;
/** 0: free, 1: glued to a word/number on the right, 2: followed by ':' + digits (port / time). */
export let rightGlue = 0;
let T = "";

function grow(): void {
  cap *= 2;
  const gs = new Int32Array(cap);
  gs.set(GS);
  GS = gs;
  const ge = new Int32Array(cap);
  ge.set(GE);
  GE = ge;
  const sep = new Uint8Array(cap);
  sep.set(SEP);
  SEP = sep;
  const ds = new Int32Array(cap + 1);
  ds.set(DS);
  DS = ds;
}


/** Tokenises the chunk whose first digit is at i. Returns the end of the last group. */
export function tokenize(t: string, i: number): number {
  T = t;
  const n = t.length;
  prefixStart = i;
  plus = false;
  openFirst = false;
  if (i > 0) {
    const c = t.charCodeAt(i - 1);
    if (c === 40) {
      openFirst = true;
      prefixStart = i - 1;
    } else if (c === 43) {
      plus = true;
      prefixStart = i - 1;
      if (i > 1 && t.charCodeAt(i - 2) === 40) {
        openFirst = true;
        prefixStart = i - 2;
      }
    }
  }
  G = 0;
  let pos = i;
  let digits = 0;
  DS[0] = 0;
  for (;;) {
    const gs = pos;
    let c = 0;
    while (pos < n && (c = t.charCodeAt(pos)) >= 48 && c <= 57) pos++;
    if (G === cap) grow();
    GS[G] = gs;
    GE[G] = pos;
    SEP[G] = 0;
    digits += pos - gs;
    G++;
    DS[G] = digits;
    if (pos >= n) break;
    // separator: [')'] [space | dash | '.' | '/'] ['(']
    let q = pos;
    let kind = 0;
    if (c === 41) {
      kind = CLOSE;
      if (++q >= n) break;
      c = t.charCodeAt(q);
    }
    let sep = 0;
    if (c === 32 || c === 0xa0 || c === 0x202f || c === 0x2009) sep = SP;
    else if (c === 45 || c === 0x2010 || c === 0x2011 || c === 0x2012 || c === 0x2013) sep = DASH;
    else if (c === 46) sep = DOT;
    else if (c === 47) sep = SLASH;
    if (sep !== 0) {
      kind |= sep;
      if (++q >= n) break;
      c = t.charCodeAt(q);
    }
    if (c === 40) {
      kind |= OPEN;
      if (++q >= n) break;
      c = t.charCodeAt(q);
    }
    if (kind === 0 || c < 48 || c > 57) break;
    if ((kind & CLOSE) !== 0 && (kind & OPEN) !== 0) break;
    SEP[G - 1] = kind;
    pos = q;
  }
  // "(555-123-4567)": an enclosing parenthesis, not an area-code one
  if (openFirst && (G === 1 || (SEP[0] & CLOSE) === 0)) {
    openFirst = false;
    prefixStart = plus ? i - 1 : i;
  }
  // left glue: part of a code such as AB-1234, 10:30, 1,234, v2
  leftGlued = false;
  const ps = prefixStart;
  if (ps > 0) {
    const c = t.charCodeAt(ps - 1);
    if (isWord(c)) leftGlued = true;
    else if ((c === 45 || c === 47 || c === 95 || c === 92) && ps > 1 && isWord(t.charCodeAt(ps - 2))) leftGlued = true;
    else if ((c === 46 || c === 44 || c === 58) && ps > 1 && isDigit(t.charCodeAt(ps - 2))) leftGlued = true;
  }
  rightGlue = 0;
  if (pos < n) {
    const c = t.charCodeAt(pos);
    const d = pos + 1 < n ? t.charCodeAt(pos + 1) : 0;
    if (isWord(c) || c === 37 || c === 64 || c === 0x20ac || c === 36 || c === 0xa3) rightGlue = 1;
    else if (c === 58 && isDigit(d)) rightGlue = 2;
    else if (c === 44 && isDigit(d)) rightGlue = 1;
    else if ((c === 45 || c === 95 || c === 46 || c === 92) && isWord(d)) rightGlue = 1;
  }
  return pos;
}

/** Number of digits in groups s..e. */
export function digitsIn(s: number, e: number): number {
  return DS[e + 1] - DS[s];
}

export function isCut(kind: number): boolean {
  return (kind & (SP | SLASH)) !== 0;
}

function glen(g: number): number {
  return GE[g] - GS[g];
}
function dig(pos: number): number {
  return T.charCodeAt(pos) - 48;
}

/** Result of the last successful `classify`. */
export const hit = { type: "PHONE" as PiiType, start: 0, end: 0, score: 0 };
function setHit(type: PiiType, start: number, end: number, score: number): true {
  hit.type = type;
  hit.start = start;
  hit.end = end;
  hit.score = score;
  return true;
}

function negContext(): boolean {
  return ctx.cls === K_NEG || ctx.cls === K_VERSION || ctx.hash || ctx.currency ||
    (ctx.weakNeg && ctx.cls === K_NONE);
}

function opened(g: number, s: number): boolean {
  if (g === s) return s === 0 ? openFirst : (SEP[s - 1] & OPEN) !== 0;
  return (SEP[g - 1] & OPEN) !== 0;
}
function closed(g: number): boolean {
  return (SEP[g] & CLOSE) !== 0;
}

/** Start offset of a phone window, including a leading '+' / '(' that belongs to it. */
function phoneStart(s: number): number {
  if (s === 0) return prefixStart;
  return (SEP[s - 1] & OPEN) !== 0 ? GS[s] - 1 : GS[s];
}

/** Tests groups s..e (inclusive). On success fills `hit`. */
export function classify(s: number, e: number, colonAfter: boolean): boolean {
  const D = DS[e + 1] - DS[s];
  const ng = e - s + 1;
  const decorated = s === 0 && (plus || openFirst);
  if (!decorated) {
    if (ng === 4 && D <= 12 && ipv4(s, e)) return true;
    if (colonAfter) return false;
    if (ng === 3 && D === 9 && ssn(s, e)) return true;
    if (D >= 12 && D <= 19 && card(s, e, D, ng)) return true;
  } else if (colonAfter) return false;
  if (D >= 7 && D <= 17) return phone(s, e, D, ng);
  return false;
}

function ssn(s: number, e: number): boolean {
  if (glen(s) !== 3 || glen(s + 1) !== 2 || glen(e) !== 4) return false;
  const k = SEP[s];
  if (k !== SEP[s + 1] || (k !== DASH && k !== SP)) return false;
  const a = GS[s];
  const area = dig(a) * 100 + dig(a + 1) * 10 + dig(a + 2);
  const b = GS[s + 1];
  const group = dig(b) * 10 + dig(b + 1);
  const c = GS[e];
  const serial = dig(c) * 1000 + dig(c + 1) * 100 + dig(c + 2) * 10 + dig(c + 3);
  if (!ssnValid(area, group, serial)) return false;
  if (k === SP && negContext()) return false;
  return setHit("SSN", GS[s], GE[e], k === DASH ? 0.95 : 0.75);
}

function ipv4(s: number, e: number): boolean {
  for (let g = s; g < e; g++) if (SEP[g] !== DOT) return false;
  for (let g = s; g <= e; g++) {
    const l = glen(g);
    if (l > 3 || (l > 1 && dig(GS[g]) === 0)) return false;
    let v = 0;
    for (let k = GS[g]; k < GE[g]; k++) v = v * 10 + dig(k);
    if (v > 255) return false;
  }
  if (ctx.cls === K_VERSION || ctx.cls === K_NEG || ctx.currency) return false;
  return setHit("IP_ADDRESS", GS[s], GE[e], 0.9);
}

function card(s: number, e: number, D: number, ng: number): boolean {
  if (ng > 1 && (GE[s] - GS[s] < 3 || ng > 6)) return false;
  if (ctx.cls !== K_CARD && negContext()) return false;
  if (ng > 1) {
    const k = SEP[s];
    if (k !== SP && k !== DASH) return false;
    for (let g = s; g < e; g++) if (SEP[g] !== k) return false;
    for (let g = s; g <= e; g++) {
      const l = glen(g);
      if (l < 3 || l > 7) return false;
    }
  }
  const a = GS[s];
  const b = GE[e];
  const loose = ctx.cls === K_CARD || ng > 1;
  if (!cardIssuerOk(leadingDigits(T, a, b, 6), D, loose)) return false;
  if (!luhn(T, a, b)) return false;
  // an unformatted EAN/UPC/ITF/SSCC barcode that happens to pass Luhn
  if (ng === 1 && ctx.cls !== K_CARD && (D === 12 || D === 13 || D === 14 || D === 18) && gs1(T, a, b)) return false;
  return setHit("CREDIT_CARD", a, b, ctx.cls === K_CARD ? 0.99 : 0.95);
}

/** Digit number `idx` (0-based, separators skipped) of the window starting at group s. */
function digitAt(s: number, idx: number): number {
  let g = s;
  while (idx >= glen(g)) {
    idx -= glen(g);
    g++;
  }
  return dig(GS[g] + idx);
}

function phone(s: number, e: number, D: number, ng: number): boolean {
  if (ng > 7 || (ng > 1 && GE[e] - GS[e] < 2)) return false;
  let mask = 0;
  for (let g = s; g < e; g++) mask |= SEP[g];
  // parentheses: each group is either wrapped in one pair or not at all; at most one pair
  let parenGroup = -1;
  for (let g = s; g <= e; g++) {
    const o = opened(g, s);
    const c = closed(g);
    if (o !== c) {
      if (!(g === e && c && !o)) return false; // ')' after the window's last group belongs to the text
      continue;
    }
    if (o) {
      if (parenGroup >= 0) return false;
      parenGroup = g;
    }
  }
  if (ng > 1 && glen(e) < 2) return false;
  const usePlus = s === 0 && plus;
  const phoneCtx = ctx.cls === K_PHONE;
  const d0 = digitAt(s, 0);
  const d1 = D > 1 ? digitAt(s, 1) : 0;
  const d2 = D > 2 ? digitAt(s, 2) : 0;

  if (usePlus) {
    if ((mask & SLASH) !== 0 || ctx.hash) return false;
    const ccLen = callingCodeLength(d0, d1, d2);
    if (ccLen === 0) return false;
    if (ng > 1 && glen(s) < ccLen) return false;
    let cc = 0;
    for (let k = 0; k < ccLen; k++) cc = cc * 10 + digitAt(s, k);
    let nsn = D - ccLen;
    // "+44 (0)20 ..." national trunk zero in parentheses
    if (ng > 2 && glen(s + 1) === 1 && dig(GS[s + 1]) === 0 && parenGroup === s + 1) nsn -= 1;
    const [mn, mx] = nsnRange(cc);
    if (nsn < mn || nsn > mx || nsn + ccLen > 15) return false;
    // NANP: area code starts with 2-9; the exchange too, but formatted numbers such as
    // "+1 (555) 123-4567" are accepted anyway (people write them), contiguous ones are not
    if (cc === 1 && (digitAt(s, 1) < 2 || (ng === 1 && digitAt(s, 4) < 2))) return false;
    if (parenGroup === s && glen(s) !== ccLen) return false;
    return setHit("PHONE", prefixStart, GE[e], 0.95);
  }
  if (s === 0 && openFirst && parenGroup !== 0) return false;
  if (negContext()) return false;
  const start = phoneStart(s);
  // 00 + country code: "0044 20 7946 0958", "0044 (0)20 7946 0958"
  if (d0 === 0 && d1 === 0) {
    if (ng < 2 && !phoneCtx) return false;
    const ccLen = callingCodeLength(d2, D > 3 ? digitAt(s, 3) : 0, D > 4 ? digitAt(s, 4) : 0);
    if (ccLen === 0) return false;
    let cc = 0;
    for (let k = 0; k < ccLen; k++) cc = cc * 10 + digitAt(s, 2 + k);
    let nsn = D - 2 - ccLen;
    if (parenGroup >= 0) {
      if (parenGroup !== s + 1 || glen(parenGroup) !== 1 || dig(GS[parenGroup]) !== 0) return false;
      nsn -= 1;
    }
    const [mn, mx] = nsnRange(cc);
    if (nsn < mn || nsn > mx + 1) return false;
    return setHit("PHONE", start, GE[e], 0.85);
  }
  if (parenGroup > s + (d0 === 1 && glen(s) === 1 ? 1 : 0)) return false;

  // North American Numbering Plan
  if (D === 10 || (D === 11 && d0 === 1)) {
    const off = D === 11 ? 1 : 0;
    if (digitAt(s, off) >= 2 && (ng > 1 || digitAt(s, off + 3) >= 2)) {
      let g = s;
      let ok = false;
      let score = 0.6;
      if (off === 1 && ng > 1) {
        if (glen(s) !== 1) g = -1;
        else g = s + 1;
      }
      if (g >= 0) {
        const rest = e - g + 1;
        if (rest === 1) ok = ng === 1; // 4155552671 / 14155552671
        else if (rest === 3 && glen(g) === 3 && glen(g + 1) === 3 && glen(e) === 4) {
          const a = SEP[g] & ~OPEN;
          const b = SEP[g + 1];
          if (parenGroup === g) ok = (a === CLOSE || a === (CLOSE | SP) || a === (CLOSE | DASH)) && (b === DASH || b === SP || b === DOT);
          else {
            ok = (a === DASH || a === DOT || a === SP || a === SLASH) && (b === DASH || b === DOT || b === SP) &&
              ((a === DOT) === (b === DOT));
          }
          score = parenGroup === g || a === DASH || b === DASH ? 0.9 : 0.85;
        }
      }
      if (ok) return setHit("PHONE", start, GE[e], phoneCtx ? Math.max(score, 0.8) : score);
    }
  }

  // national number with trunk prefix 0 (GB, DE, FR, IN, NG, ...)
  if (d0 === 0) {
    if (D < (phoneCtx ? 9 : 10) || D > 12) return false;
    if (ng === 1) {
      if (D === 12 && !phoneCtx) return false;
      return setHit("PHONE", start, GE[e], phoneCtx ? 0.8 : 0.6);
    }
    if (parenGroup >= 0 && parenGroup !== s) return false;
    if (glen(s) < 2 || glen(s) > 6) return false;
    if ((mask & DOT) !== 0) {
      for (let g = s; g < e; g++) if (SEP[g] !== DOT) return false;
    }
    if ((mask & SLASH) !== 0) {
      for (let g = s + 1; g < e; g++) if ((SEP[g] & SLASH) !== 0) return false;
    }
    for (let g = s + 1; g <= e; g++) if (glen(g) < 2) return false;
    return setHit("PHONE", start, GE[e], 0.85);
  }

  // Brazil: (11) 91234-5678, 21 2345-6789
  if (ng === 3 && glen(s) === 2 && (glen(s + 1) === 4 || glen(s + 1) === 5) && glen(e) === 4 && d1 !== 0) {
    if (glen(s + 1) === 5 && dig(GS[s + 1]) !== 9) return false;
    const a = SEP[s] & ~OPEN;
    const b = SEP[s + 1];
    if ((b === DASH || b === SP) && (a === SP || a === (CLOSE | SP) || a === CLOSE)) {
      return setHit("PHONE", start, GE[e], parenGroup === s ? 0.85 : 0.75);
    }
  }
  // India: 98765 43210
  if (ng === 2 && glen(s) === 5 && glen(e) === 5 && d0 >= 6 && (SEP[s] === SP || SEP[s] === DASH)) {
    return setHit("PHONE", start, GE[e], 0.8);
  }
  if (ng === 1) {
    if (D === 10 && d0 >= 6) return setHit("PHONE", start, GE[e], 0.6); // Indian mobile
    if (D === 11 && d2 === 9 && d0 !== 0 && d1 !== 0) return setHit("PHONE", start, GE[e], 0.55); // Brazilian mobile
    if (phoneCtx && D >= 7 && D <= 13) return setHit("PHONE", start, GE[e], 0.7);
    return false;
  }
  if (phoneCtx && D >= 7 && D <= 13 && (mask & SLASH) === 0) {
    for (let g = s + 1; g <= e; g++) if (glen(g) < 2) return false;
    return setHit("PHONE", start, GE[e], 0.7);
  }
  return false;
}
