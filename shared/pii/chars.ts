/** Character classification tables (ASCII fast path + a few Unicode letter ranges). */

export const F_DIGIT = 1;
export const F_UPPER = 2;
export const F_LOWER = 4;
export const F_HEX = 8;
/** Characters allowed in the local part of an e-mail address. */
export const F_LOCAL = 16;
export const F_LETTER = F_UPPER | F_LOWER;
export const F_ALNUM = F_DIGIT | F_LETTER;

export const CC = new Uint8Array(128);
for (let c = 48; c <= 57; c++) CC[c] = F_DIGIT | F_HEX | F_LOCAL;
for (let c = 65; c <= 90; c++) CC[c] = F_UPPER | F_LOCAL | (c <= 70 ? F_HEX : 0);
for (let c = 97; c <= 122; c++) CC[c] = F_LOWER | F_LOCAL | (c <= 102 ? F_HEX : 0);
for (const ch of "._%+-'") CC[ch.charCodeAt(0)] |= F_LOCAL;

/** Letters outside ASCII that we treat as word characters (Latin-1/Extended, Greek, Cyrillic, Latin Extended Additional). */
export function isUniLetter(c: number): boolean {
  return (c >= 0xc0 && c <= 0x24f && c !== 0xd7 && c !== 0xf7) || (c >= 0x370 && c <= 0x52f) ||
    (c >= 0x1e00 && c <= 0x1eff);
}

export function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

export function isLetter(c: number): boolean {
  return c < 128 ? (CC[c] & F_LETTER) !== 0 : isUniLetter(c);
}

/** Letter or digit (ASCII or Unicode letter). */
export function isWord(c: number): boolean {
  return c < 128 ? (CC[c] & F_ALNUM) !== 0 : isUniLetter(c);
}

export function isAsciiAlnum(c: number): boolean {
  return c < 128 && (CC[c] & F_ALNUM) !== 0;
}

export function isUpper(c: number): boolean {
  return c < 128 ? (CC[c] & F_UPPER) !== 0 : isUniLetter(c) && String.fromCharCode(c).toLowerCase() !== String.fromCharCode(c);
}

export function isHex(c: number): boolean {
  return c < 128 && (CC[c] & F_HEX) !== 0;
}

/** Space characters that may separate digit groups inside one number. */
export function isNumSpace(c: number): boolean {
  return c === 32 || c === 0xa0 || c === 0x202f || c === 0x2009;
}

/** Any horizontal whitespace. */
export function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 0xa0 || c === 0x202f || c === 0x2009;
}

/** Compare text[s, e) case-insensitively (ASCII) with a lower-case word. */
export function eqLower(text: string, s: number, e: number, w: string): boolean {
  if (e - s !== w.length) return false;
  for (let k = 0; k < w.length; k++) {
    let c = text.charCodeAt(s + k);
    if (c >= 65 && c <= 90) c |= 32;
    else if (c >= 0xc0 && c <= 0xde && c !== 0xd7) c += 32;
    if (c !== w.charCodeAt(k)) return false;
  }
  return true;
}

/** Hash of text[s, e) lower-cased (ASCII + Latin-1 upper-case folded). */
export function hashLower(text: string, s: number, e: number): number {
  let h = 0;
  for (let k = s; k < e; k++) {
    let c = text.charCodeAt(k);
    if (c >= 65 && c <= 90) c |= 32;
    else if (c >= 0xc0 && c <= 0xde && c !== 0xd7) c += 32;
    h = (Math.imul(h, 31) + c) | 0;
  }
  return h;
}

export function hashString(w: string): number {
  return hashLower(w, 0, w.length);
}

/** Hash of text[s, e) lower-cased, read backwards (used while scanning right to left). */
export function hashLowerRev(text: string, s: number, e: number): number {
  let h = 0;
  for (let k = e - 1; k >= s; k--) {
    let c = text.charCodeAt(k);
    if (c >= 65 && c <= 90) c |= 32;
    else if (c >= 0xc0 && c <= 0xde && c !== 0xd7) c += 32;
    h = (Math.imul(h, 31) + c) | 0;
  }
  return h;
}

/**
 * A set (or map) of lower-case words looked up in place, without allocating:
 * open addressing on a 32-bit hash, then an exact case-insensitive comparison.
 * `reverse`: keys are hashed right to left (see hashLowerRev).
 */
export class WordSet<V = true> {
  private readonly hashes: Int32Array;
  private readonly slots: Int32Array;
  private readonly words: string[] = [];
  private readonly vals: V[] = [];
  private readonly lenMask: number = 0;
  private readonly bits: number;
  constructor(entries: Iterable<string | [string, V]>, readonly reverse = false) {
    const list: Array<[string, V]> = [];
    for (const e of entries) list.push(typeof e === "string" ? [e, true as V] : e);
    let size = 16;
    while (size < list.length * 4) size *= 2;
    this.bits = size - 1;
    this.hashes = new Int32Array(size);
    this.slots = new Int32Array(size);
    for (const [w, v] of list) {
      if (w.length > 30) continue;
      this.lenMask |= 1 << w.length;
      const h = reverse ? hashLowerRev(w, 0, w.length) : hashLower(w, 0, w.length);
      let k = h & this.bits;
      while (this.slots[k] !== 0) k = (k + 1) & this.bits;
      this.words.push(w);
      this.vals.push(v);
      this.hashes[k] = h;
      this.slots[k] = this.words.length;
    }
  }
  /** Lookup with a hash the caller already computed (same direction as the set). */
  getHashed(text: string, s: number, e: number, h: number): V | undefined {
    const len = e - s;
    if (len > 30 || (this.lenMask & (1 << len)) === 0) return undefined;
    let k = h & this.bits;
    for (;;) {
      const slot = this.slots[k];
      if (slot === 0) return undefined;
      if (this.hashes[k] === h && eqLower(text, s, e, this.words[slot - 1])) return this.vals[slot - 1];
      k = (k + 1) & this.bits;
    }
  }
  get(text: string, s: number, e: number): V | undefined {
    const len = e - s;
    if (len > 30 || (this.lenMask & (1 << len)) === 0) return undefined;
    return this.getHashed(text, s, e, this.reverse ? hashLowerRev(text, s, e) : hashLower(text, s, e));
  }
  has(text: string, s: number, e: number): boolean {
    return this.get(text, s, e) !== undefined;
  }
}
