/**
 * Street addresses: "<number> <Name words> <street type>" (US/UK/AU), "<number> rue de ..."
 * (FR), "<Name>straße <number>" / "Via Roma 10" (DE/NL/IT/ES, found through the look-back),
 * each optionally followed by a unit, city, state, ZIP or postcode. Every step reads a
 * bounded number of words, so the cost per character stays constant.
 */
import { isDigit, isLetter, isNumSpace, isUpper, isWord } from "./chars.ts";
import {
  DIRECTIONS,
  NAME_CONNECTORS,
  STREET_TYPES,
  STREET_TYPES_FIRST_AFTER_NUMBER,
  UNIT_WORDS,
  US_STATES,
} from "./tables.ts";

let we = 0;
/** Reads a word at pos (letters with inner ' - ’, or an ordinal like 5th); returns its end or pos. */
function word(t: string, pos: number): number {
  const n = t.length;
  let k = pos;
  if (k < n && isDigit(t.charCodeAt(k))) {
    while (k < n && isDigit(t.charCodeAt(k))) k++;
    if (k - pos > 3 || k + 2 > n) return pos;
    const a = t.charCodeAt(k) | 32;
    const b = t.charCodeAt(k + 1) | 32;
    if (!((a === 115 && b === 116) || (a === 110 && b === 100) || (a === 114 && b === 100) || (a === 116 && b === 104))) {
      return pos;
    }
    k += 2;
    if (k < n && isWord(t.charCodeAt(k))) return pos;
    we = k;
    return k;
  }
  while (k < n) {
    const c = t.charCodeAt(k);
    if (isLetter(c)) k++;
    else if ((c === 39 || c === 45 || c === 0x2019) && k > pos && k + 1 < n && isLetter(t.charCodeAt(k + 1))) k++;
    else break;
  }
  if (k < n && isDigit(t.charCodeAt(k))) return pos;
  we = k;
  return k;
}

/**
 * After a house number ending at pos: the street name and type. Returns the end of
 * the street part or -1. lowerOk: lower-case names allowed (an address keyword was seen).
 */
export function streetAfterNumber(t: string, pos: number, lowerOk: boolean): number {
  const n = t.length;
  let q = pos;
  if (q < n && t.charCodeAt(q) === 44) q++; // "12, rue de Rivoli"
  if (q >= n || !isNumSpace(t.charCodeAt(q))) return -1;
  q++;
  let words = 0;
  let typeEnd = -1;
  let fr = false;
  let frEnd = -1;
  while (words < 6) {
    const ws = q;
    if (word(t, ws) === ws) break;
    const e = we;
    const c0 = t.charCodeAt(ws);
    const cap = isUpper(c0) || isDigit(c0);
    if (words === 0 && !cap) {
      // lower case right after the number: only "12 rue de ..." or an announced address ("live at 42 wallaby way")
      if (STREET_TYPES_FIRST_AFTER_NUMBER.has(t, ws, e)) fr = true;
      else if (!lowerOk) return -1;
    } else if (words === 0 && STREET_TYPES_FIRST_AFTER_NUMBER.has(t, ws, e)) {
      fr = true;
    } else if (fr) {
      if (cap) frEnd = e;
      else if (!NAME_CONNECTORS.has(t, ws, e)) break;
    } else if (words > 0 && STREET_TYPES.has(t, ws, e) && (cap || lowerOk)) {
      typeEnd = e;
      if (!cap) break; // lower-case: the first street type ends it
    } else if (!cap) {
      if (!lowerOk || typeEnd >= 0) {
        if (!NAME_CONNECTORS.has(t, ws, e) || typeEnd >= 0) break;
      }
    }
    words++;
    q = e;
    if (q < n && t.charCodeAt(q) === 46) q++; // "St. Mary's", "Ave."
    if (q + 1 < n && isNumSpace(t.charCodeAt(q)) && isWord(t.charCodeAt(q + 1))) q++;
    else break;
  }
  if (fr) return frEnd;
  return typeEnd;
}

function up(t: string, i: number): boolean {
  if (i >= t.length) return false;
  const c = t.charCodeAt(i);
  return c >= 65 && c <= 90;
}
function dg(t: string, i: number): boolean {
  return i < t.length && isDigit(t.charCodeAt(i));
}

function ukPostcode(t: string, p: number): number {
  // A9 9AA, A99 9AA, AA9 9AA, AA99 9AA, A9A 9AA, AA9A 9AA
  const n = t.length;
  let k = p;
  if (!up(t, k)) return -1;
  k++;
  if (up(t, k)) k++;
  if (!dg(t, k)) return -1;
  k++;
  if (up(t, k) || dg(t, k)) k++;
  if (k >= n || !isNumSpace(t.charCodeAt(k))) return -1;
  k++;
  if (!dg(t, k) || !up(t, k + 1) || !up(t, k + 2)) return -1;
  k += 3;
  if (k < n && isWord(t.charCodeAt(k))) return -1;
  return k;
}

function digitsAt(t: string, p: number): number {
  let k = p;
  while (k < t.length && isDigit(t.charCodeAt(k))) k++;
  return k - p;
}

/** 1-3 capitalised words (a city), connectors allowed inside; returns the end or -1. */
function city(t: string, p: number): number {
  const n = t.length;
  let q = p;
  let end = -1;
  for (let w = 0; w < 4; w++) {
    if (word(t, q) === q) break;
    const e = we;
    if (isUpper(t.charCodeAt(q))) end = e;
    else if (!(w > 0 && NAME_CONNECTORS.has(t, q, e))) break;
    q = e;
    if (q + 1 < n && isNumSpace(t.charCodeAt(q)) && isLetter(t.charCodeAt(q + 1))) q++;
    else break;
  }
  return end;
}

/** After a state or city: ZIP / postcode endings. Returns end or -1. */
function postcodeAt(t: string, p: number): number {
  const n = t.length;
  const d = digitsAt(t, p);
  if (d === 5) {
    let k = p + 5;
    if (k + 5 <= n && t.charCodeAt(k) === 45 && digitsAt(t, k + 1) === 4) k += 5;
    if (k < n && isWord(t.charCodeAt(k))) return -1;
    return k;
  }
  return ukPostcode(t, p);
}

/** Unit, directional, city, state, ZIP/postcode after the street part. Returns the new end (>= pos). */
export function streetTail(t: string, pos: number): number {
  const n = t.length;
  let end = pos;
  // directional suffix: "Ave NW"
  if (end + 1 < n && isNumSpace(t.charCodeAt(end))) {
    const e = word(t, end + 1) !== end + 1 ? we : -1;
    if (e > 0 && isUpper(t.charCodeAt(end + 1)) && DIRECTIONS.has(t, end + 1, e)) end = e;
  }
  for (let seg = 0; seg < 5; seg++) {
    let r = end;
    let comma = false;
    if (r < n && t.charCodeAt(r) === 44) {
      comma = true;
      r++;
    }
    if (r >= n || !isNumSpace(t.charCodeAt(r))) break;
    r++;
    if (r >= n) break;
    const c = t.charCodeAt(r);
    if (c === 35) {
      // "#12"
      let k = r + 1;
      while (k < n && isWord(t.charCodeAt(k))) k++;
      if (k - r - 1 < 1 || k - r - 1 > 6) break;
      end = k;
      continue;
    }
    if (isDigit(c)) {
      const d = digitsAt(t, r);
      if (d === 5) {
        const z = postcodeAt(t, r);
        if (z < 0) break;
        // "10115 Berlin" or US ZIP
        if (z + 1 < n && isNumSpace(t.charCodeAt(z)) && isUpper(t.charCodeAt(z + 1))) {
          const ce = city(t, z + 1);
          if (ce > 0) return ce;
        }
        return z;
      }
      if (d === 4) {
        let k = r + 4;
        // NL: 1012 AB Amsterdam
        if (k + 3 < n && isNumSpace(t.charCodeAt(k)) && isUpper(t.charCodeAt(k + 1)) && isUpper(t.charCodeAt(k + 2)) &&
          !isWord(t.charCodeAt(k + 3))) k += 3;
        if (k + 1 < n && isNumSpace(t.charCodeAt(k)) && isUpper(t.charCodeAt(k + 1))) {
          const ce = city(t, k + 1);
          if (ce > 0) return ce;
        }
      }
      break;
    }
    if (!isUpper(c)) break;
    const pc = ukPostcode(t, r);
    if (pc > 0) return pc;
    const e = word(t, r) !== r ? we : -1;
    if (e < 0) break;
    if (UNIT_WORDS.has(t, r, e)) {
      let k = e;
      if (k < n && t.charCodeAt(k) === 46) k++;
      if (k < n && isNumSpace(t.charCodeAt(k))) k++;
      if (k < n && t.charCodeAt(k) === 35) k++;
      const us = k;
      while (k < n && isWord(t.charCodeAt(k))) k++;
      if (k - us < 1 || k - us > 6) break;
      end = k;
      continue;
    }
    if (e - r === 2 && US_STATES.has(t.slice(r, e))) {
      end = e;
      if (e + 1 < n && isNumSpace(t.charCodeAt(e)) && isDigit(t.charCodeAt(e + 1))) {
        const z = postcodeAt(t, e + 1);
        if (z > 0) return z;
      }
      return end;
    }
    const ce = city(t, r);
    if (ce < 0) break;
    // a city needs a comma before it or a state/postcode after it
    let after = ce;
    if (after < n && t.charCodeAt(after) === 44) after++;
    let follows = false;
    if (after + 1 < n && isNumSpace(t.charCodeAt(after))) {
      const a = after + 1;
      const ac = t.charCodeAt(a);
      if (isDigit(ac)) follows = postcodeAt(t, a) > 0;
      else if (isUpper(ac)) {
        follows = ukPostcode(t, a) > 0 ||
          (a + 2 <= n && US_STATES.has(t.slice(a, a + 2)) && (a + 2 === n || !isWord(t.charCodeAt(a + 2))));
      }
    }
    if (!comma && !follows) break;
    end = ce;
  }
  return end;
}
