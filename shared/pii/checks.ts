/** Check-digit and range validators. All work on text ranges and skip non-digit separators. */
import { IBAN_LENGTHS } from "./tables.ts";

/** Luhn (mod 10) over the digits in text[s, e). */
export function luhn(text: string, s: number, e: number): boolean {
  let sum = 0;
  let dbl = false;
  for (let k = e - 1; k >= s; k--) {
    const c = text.charCodeAt(k);
    if (c < 48 || c > 57) continue;
    let d = c - 48;
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return sum % 10 === 0;
}

/** GS1 (EAN/UPC/ITF/SSCC) check digit over the digits in text[s, e). */
export function gs1(text: string, s: number, e: number): boolean {
  let sum = 0;
  let w = 1; // rightmost (check digit) has weight 1, then 3, 1, 3, ...
  for (let k = e - 1; k >= s; k--) {
    const c = text.charCodeAt(k);
    if (c < 48 || c > 57) continue;
    sum += (c - 48) * w;
    w = w === 1 ? 3 : 1;
  }
  return sum % 10 === 0;
}

/** First `count` digits of text[s, e) as a number (separators skipped). */
export function leadingDigits(text: string, s: number, e: number, count: number): number {
  let v = 0;
  let got = 0;
  for (let k = s; k < e && got < count; k++) {
    const c = text.charCodeAt(k);
    if (c < 48 || c > 57) continue;
    v = v * 10 + (c - 48);
    got++;
  }
  while (got < count) {
    v *= 10;
    got++;
  }
  return v;
}

const MAESTRO4 = new Set([5018, 5020, 5038, 5893, 6304, 6759, 6761, 6762, 6763]);

/**
 * Known issuer prefix + length. `p6` = first six digits. `loose` admits the rare
 * short lengths (13-digit Visa, 14-digit Diners) which otherwise collide with barcodes.
 */
export function cardIssuerOk(p6: number, len: number, loose: boolean): boolean {
  const p1 = Math.floor(p6 / 100000);
  const p2 = Math.floor(p6 / 10000);
  const p3 = Math.floor(p6 / 1000);
  const p4 = Math.floor(p6 / 100);
  if (p1 === 4) return len === 16 || len === 19 || (len === 13 && loose); // Visa
  if (p2 >= 51 && p2 <= 55) return len === 16; // Mastercard
  if (p4 >= 2221 && p4 <= 2720) return len === 16; // Mastercard 2-series
  if (p4 >= 2200 && p4 <= 2204) return len >= 16 && len <= 19; // Mir
  if (p2 === 34 || p2 === 37) return len === 15; // American Express
  if (p4 === 6011 || (p3 >= 644 && p3 <= 649) || p2 === 65) return len >= 16 && len <= 19; // Discover / RuPay 65
  if (p2 === 62) return len >= 16 && len <= 19; // UnionPay (incl. Discover co-brand 622126-622925)
  if (p4 >= 3528 && p4 <= 3589) return len >= 16 && len <= 19; // JCB
  if ((p3 >= 300 && p3 <= 305) || p2 === 36 || p2 === 38 || p2 === 39) {
    return (len === 14 && loose) || (len >= 16 && len <= 19); // Diners Club
  }
  if (MAESTRO4.has(p4)) return len >= 16 && len <= 19; // Maestro
  if (p2 === 60 || p2 === 81 || p2 === 82) return len === 16; // RuPay
  if (p4 === 9792) return len === 16; // Troy
  return false;
}

/** US SSN: area 001-899 except 666, group 01-99, serial 0001-9999. */
export function ssnValid(area: number, group: number, serial: number): boolean {
  return area !== 0 && area !== 666 && area < 900 && group !== 0 && serial !== 0;
}

/** Reads n digits at text[pos..] as a number; -1 if not all digits. */
export function readNum(text: string, pos: number, n: number): number {
  let v = 0;
  for (let k = 0; k < n; k++) {
    const c = text.charCodeAt(pos + k);
    if (c < 48 || c > 57) return -1;
    v = v * 10 + (c - 48);
  }
  return v;
}

/**
 * Validates an IBAN given as its compact alphanumeric characters collected in `buf`
 * (upper-cased char codes, length = len): country length table + ISO 7064 mod 97-10.
 */
export function ibanValid(buf: Uint16Array, len: number): boolean {
  if (len < 15) return false;
  const cc = String.fromCharCode(buf[0], buf[1]);
  if (IBAN_LENGTHS[cc] !== len) return false;
  if (buf[2] < 48 || buf[2] > 57 || buf[3] < 48 || buf[3] > 57) return false;
  let rem = 0;
  for (let k = 4; k < len + 4; k++) {
    const c = buf[k % len];
    if (c >= 48 && c <= 57) rem = (rem * 10 + (c - 48)) % 97;
    else if (c >= 65 && c <= 90) rem = (rem * 100 + (c - 55)) % 97;
    else return false;
  }
  return rem === 1;
}
