/**
 * Context words. Before classifying a number we look back (at most 60 characters, same
 * clause, never past the previous number) for the nearest keyword. The nearest keyword
 * decides: "order 4155552671" is not a phone, "call 4155552671" is, "passport 123456789"
 * is a passport number. Lookups hash words in place; nothing is allocated.
 */
import {
  eqLower,
  isDigit,
  isLetter,
  isSpace,
  isUpper,
  WordSet,
} from "./chars.ts";
import { NAME_CONNECTORS, STREET_SUFFIXES, STREET_TYPES_LEADING } from "./tables.ts";

export const K_NONE = 0;
/** Business identifier context: order, PO, invoice, SKU, tracking, price ... */
export const K_NEG = 1;
/** Software version context: version, build, firmware, v ... */
export const K_VERSION = 2;
export const K_PHONE = 3;
export const K_CARD = 4;
export const K_ADDRESS = 5;
export const K_SSN = 6;
export const K_PASSPORT = 7;
export const K_DOB = 8;
export const K_NATIONAL_ID = 9;
export const K_DL = 10;
export const K_MEDICAL = 11;
export const K_POBOX = 12;
/** "ID" on its own: not a phone/card, but weaker than any other keyword. */
export const K_WEAK_NEG = 13;

type Resolver = (t: string, ws: number, we: number, floor: number, ns: number, ne: number) => number;
interface Kw {
  cls: number;
  /** Only when written in capitals (NI, PO, DL, SIN ...), because the lower-case form is a common word. */
  cs?: boolean;
  res?: Resolver;
}

let pwS = -1;
let pwE = -1;
/** Start of a multi-word keyword found by a resolver (used for "PO Box"). */
let resolvedStart = -1;

/** Finds the word before position ws (skipping spaces, one apostrophe-s and dots). Sets pwS/pwE. */
function prevWord(t: string, ws: number, floor: number): boolean {
  let j = ws - 1;
  while (j >= floor && (isSpace(t.charCodeAt(j)) || t.charCodeAt(j) === 45 || t.charCodeAt(j) === 46)) j--;
  if (j < floor || !isLetter(t.charCodeAt(j))) return false;
  let e = j + 1;
  let s = j;
  while (s > floor && isLetter(t.charCodeAt(s - 1))) s--;
  // driver's -> driver
  if (e - s === 1 && (t.charCodeAt(s) | 32) === 115 && s - 1 > floor) {
    const a = t.charCodeAt(s - 1);
    if ((a === 39 || a === 0x2019) && isLetter(t.charCodeAt(s - 2))) {
      e = s - 1;
      s = e - 1;
      while (s > floor && isLetter(t.charCodeAt(s - 1))) s--;
    }
  }
  pwS = s;
  pwE = e;
  return true;
}

function prevIs(t: string, ws: number, floor: number, words: readonly string[]): boolean {
  if (!prevWord(t, ws, floor)) return false;
  for (const w of words) if (eqLower(t, pwS, pwE, w)) return true;
  return false;
}

function nextIs(t: string, ns: number, ne: number, words: readonly string[]): boolean {
  if (ns < 0) return false;
  for (const w of words) if (eqLower(t, ns, ne, w)) return true;
  return false;
}

const KW_LIST: Array<[string, Kw]> = [];
function addKw(w: string, kw: Kw): void {
  KW_LIST.push([w.toLowerCase(), kw]);
}
function add(cls: number, words: string, extra: Partial<Kw> = {}): void {
  for (const w of words.split(" ")) addKw(w, { cls, ...extra });
}

add(
  K_NEG,
  "order orders purchase invoice invoices inv sku skus tracking track ref reference receipt ticket case item product part model serial confirmation conf booking reservation transaction txn trx shipment parcel package consignment awb waybill batch lot barcode ean upc gtin isbn asin qty quantity customer account acct member membership loyalty voucher coupon promo claim policy rma issue bug request req job project contract quote quotation estimate delivery price total amount cost costs fee usd eur gbp inr zip postcode pin otp code flight seat store branch warehouse page chapter vat",
);
add(
  K_NEG,
  "bestellung bestellnummer auftrag auftragsnummer rechnung rechnungsnummer sendung sendungsnummer artikel artikelnummer kundennummer lieferung vorgang commande facture colis référence reference pedido factura ordine fattura",
);
add(K_NEG, "PO PR SN", { cs: true });
add(
  K_VERSION,
  "version ver v build release firmware patch rev revision update upgrade windows ios android macos chrome python node kernel sdk api",
);
add(
  K_PHONE,
  "call calls calling called phone phones telephone tel tél telefon telefono téléphone mobile mob cell cellphone whatsapp fax text sms ring dial reach contact landline hotline handy portable celular",
);
add(K_CARD, "visa mastercard amex credit debit cc payment pay paid cardnumber creditcard");
add(
  K_ADDRESS,
  "address addr live lives living located location ship shipping deliver send moved reside resides residence home house apartment office visit wohne adresse dirección direccion indirizzo",
);
add(K_SSN, "ssn");
add(K_PASSPORT, "passport passports reisepass passeport pasaporte passaporto");
add(K_DOB, "dob born birth birthday birthdate geboren geburtsdatum née nacimiento");
add(K_NATIONAL_ID, "nino aadhaar aadhar cpf itin personalausweis ausweis ausweisnummer personnummer fiscale steuernummer steueridentifikationsnummer identity nric hkid pesel");
add(K_NATIONAL_ID, "NI SIN PAN CURP DNI NIE NIF BSN TFN TIN", { cs: true });
add(K_DL, "führerschein fuhrerschein fuehrerschein");
add(K_DL, "DL", { cs: true });
add(K_MEDICAL, "mrn nhs medicare medicaid patient hospital");

const R = (res: Resolver): Partial<Kw> => ({ res });
addKw("security", { cls: 0, ...R((t, ws, _we, f) => (prevIs(t, ws, f, ["social"]) ? K_SSN : 0)) });
addKw("insurance", {
  cls: 0,
  ...R((t, ws, _we, f) =>
    prevIs(t, ws, f, ["national", "social"]) ? K_NATIONAL_ID : prevIs(t, ws, f, ["health", "medical"]) ? K_MEDICAL : 0
  ),
});
for (const w of ["record", "records"]) {
  addKw(w, { cls: 0, ...R((t, ws, _we, f) => (prevIs(t, ws, f, ["medical", "health", "patient", "hospital"]) ? K_MEDICAL : 0)) });
}
for (const w of ["license", "licence", "lic"]) {
  addKw(w, { cls: 0, ...R((t, ws, _we, f) => (prevIs(t, ws, f, ["driver", "drivers", "driving", "dl"]) ? K_DL : 0)) });
}
addKw("card", {
  cls: 0,
  ...R((t, ws, _we, f) => {
    if (prevIs(t, ws, f, ["id", "identity", "national", "aadhaar", "aadhar", "pan", "voter"])) return K_NATIONAL_ID;
    if (prevIs(t, ws, f, ["health", "insurance", "medicare", "nhs", "medical", "ehic"])) return K_MEDICAL;
    if (prevIs(t, ws, f, ["gift", "loyalty", "membership", "member", "library", "rewards", "sim", "business", "key", "store"])) return K_NEG;
    return K_CARD;
  }),
});
addKw("id", {
  cls: 0,
  ...R((t, ws, _we, f) => {
    if (prevIs(t, ws, f, ["national", "tax", "personal", "government", "state", "voter", "citizen", "steuer"])) return K_NATIONAL_ID;
    if (prevIs(t, ws, f, ["patient", "medical", "health", "hospital"])) return K_MEDICAL;
    if (prevIs(t, ws, f, ["passport"])) return K_PASSPORT;
    return K_WEAK_NEG;
  }),
});
addKw("box", {
  cls: 0,
  ...R((t, ws, _we, f) => {
    if (!prevWord(t, ws, f)) return 0;
    if (eqLower(t, pwS, pwE, "po") || eqLower(t, pwS, pwE, "office")) {
      resolvedStart = pwS;
      if (eqLower(t, pwS, pwE, "office") && prevIs(t, pwS, f, ["post"])) resolvedStart = pwS;
      return K_POBOX;
    }
    // P.O. Box
    if (eqLower(t, pwS, pwE, "o") && pwS >= 2 && t.charCodeAt(pwS - 1) === 46 && (t.charCodeAt(pwS - 2) | 32) === 112) {
      resolvedStart = pwS - 2;
      return K_POBOX;
    }
    return 0;
  }),
});
addKw("date", { cls: 0, ...R((t, ws, _we, f) => (prevIs(t, ws, f, ["birth"]) ? K_DOB : 0)) });
addKw("tax", {
  cls: 0,
  ...R((t, _ws, _we, _f, ns, ne) => (nextIs(t, ns, ne, ["number", "no", "nr", "identification", "code", "file"]) ? K_NATIONAL_ID : 0)),
});
addKw("national", {
  cls: 0,
  ...R((t, _ws, _we, _f, ns, ne) => (nextIs(t, ns, ne, ["number", "no", "nr", "identification"]) ? K_NATIONAL_ID : 0)),
});
addKw("health", {
  cls: 0,
  ...R((t, _ws, _we, _f, ns, ne) => (nextIs(t, ns, ne, ["number", "no", "nr"]) ? K_MEDICAL : 0)),
});
addKw("identification", {
  cls: 0,
  ...R((t, _ws, _we, _f, ns, ne) => (nextIs(t, ns, ne, ["number", "no", "nr"]) ? K_NATIONAL_ID : 0)),
});
// d.o.b / D.O.B
addKw("b", {
  cls: 0,
  ...R((t, ws) =>
    ws >= 4 && t.charCodeAt(ws - 1) === 46 && (t.charCodeAt(ws - 2) | 32) === 111 && t.charCodeAt(ws - 3) === 46 &&
      (t.charCodeAt(ws - 4) | 32) === 100
      ? K_DOB
      : 0
  ),
});
// P.O. 12345 (purchase order)
addKw("o", {
  cls: 0,
  ...R((t, ws) => (ws >= 2 && t.charCodeAt(ws - 1) === 46 && (t.charCodeAt(ws - 2) | 32) === 112 ? K_NEG : 0)),
});

const KW = new WordSet<Kw>(KW_LIST, true);

function fold(c: number): number {
  if (c >= 65 && c <= 90) return c | 32;
  if (c >= 0xc0 && c <= 0xde && c !== 0xd7) return c + 32;
  return c;
}

function allUpper(t: string, s: number, e: number): boolean {
  for (let k = s; k < e; k++) {
    const c = t.charCodeAt(k);
    if (c < 65 || c > 90) return false;
  }
  return true;
}

/** Keyword class of the word text[ws, we), 0 if none. ns/ne: the following word (or -1). rh: hashLowerRev of the word. */
export function keywordAt(t: string, ws: number, we: number, floor: number, ns: number, ne: number, rh: number): number {
  const kw = KW.getHashed(t, ws, we, rh);
  if (kw === undefined) return 0;
  if (kw.cs && !allUpper(t, ws, we)) return 0;
  if (kw.res) return kw.res(t, ws, we, floor, ns, ne);
  return kw.cls;
}

function endsWithLower(t: string, s: number, e: number, suf: string): boolean {
  return e - s >= suf.length && eqLower(t, e - suf.length, e, suf);
}

/** Whether text[ws, we) is a compound street name ("Hauptstraße") or a bare street word ("Straße"). */
/** Hashes of the last three letters of every street suffix: a cheap filter before the full comparison. */
const SUFFIX_TAILS = new Set<number>();
for (const suf of STREET_SUFFIXES) SUFFIX_TAILS.add(tail3(suf, 0, suf.length));
function tail3(t: string, ws: number, we: number): number {
  let h = 0;
  for (let k = we - 3 < ws ? ws : we - 3; k < we; k++) h = h * 1031 + fold(t.charCodeAt(k));
  return h;
}

/** Whether text[ws, we) ends like a street name ("Hauptstraße", "Kerkstraat", "Bahnhofstr"). */
export function hasStreetSuffix(t: string, ws: number, we: number): boolean {
  return streetSuffix(t, ws, we) !== 0;
}

function streetSuffix(t: string, ws: number, we: number): number {
  if (we - ws < 3 || !SUFFIX_TAILS.has(tail3(t, ws, we))) return 0;
  for (let k = 0; k < STREET_SUFFIXES.length; k++) {
    const suf = STREET_SUFFIXES[k];
    if (endsWithLower(t, ws, we, suf)) return we - ws === suf.length ? 2 : 1;
  }
  return 0;
}

/** Whether every lower-case word in t[s, e) is a name connector (de, la, van, ...). */
function connectorsOnly(t: string, s: number, e: number): boolean {
  let k = s;
  while (k < e) {
    const c = t.charCodeAt(k);
    if (!isLetter(c)) {
      k++;
      continue;
    }
    let we = k + 1;
    while (we < e && isLetter(t.charCodeAt(we))) we++;
    if (!isUpper(c) && !NAME_CONNECTORS.has(t, k, we)) return false;
    k = we;
  }
  return true;
}

/** Result of the last `lookback` call. */
export const ctx = {
  /** Nearest keyword class (K_*). */
  cls: K_NONE,
  /** End of that keyword. */
  kwEnd: -1,
  /** Start of that keyword (multi-word keywords: first word). */
  kwStart: -1,
  /** '#' directly before the number. */
  hash: false,
  /** Currency symbol directly before the number. */
  currency: false,
  /** A bare "ID" was seen before any stronger keyword. */
  weakNeg: false,
  /** Start of a street name that directly precedes the number ("Hauptstraße 5", "Via Roma 10"), or -1. */
  street: -1,
};

/**
 * Looks back from position p (start of a number) to find the context keyword.
 * floor: never look before this position (end of the previous token we handled).
 */
export function lookback(t: string, p: number, floor: number, wantStreet: boolean): void {
  ctx.cls = K_NONE;
  ctx.kwEnd = -1;
  ctx.kwStart = -1;
  ctx.hash = false;
  ctx.currency = false;
  ctx.weakNeg = false;
  ctx.street = -1;
  const lim = p - 40 > floor ? p - 40 : floor;
  // characters directly before: '#', currency
  let k = p - 1;
  while (k >= lim && isSpace(t.charCodeAt(k))) k--;
  if (k >= lim) {
    let c = t.charCodeAt(k);
    if (c === 58 && k - 1 >= lim) c = t.charCodeAt(k - 1); // "#: 123"
    if (c === 35) ctx.hash = true;
    else if (c === 36 || c === 0x20ac || c === 0xa3 || c === 0xa5 || c === 0x20b9 || c === 0x20bd || c === 0x20a9) {
      ctx.currency = true;
    }
  }
  let j = p - 1;
  let words = 0;
  let chain = true; // all words so far (walking back) can be part of a street name
  let lowerAt = -1; // the nearest lower-case word seen so far (walking back)
  let ns = -1;
  let ne = -1;
  while (j >= lim) {
    const c = t.charCodeAt(j);
    if (isLetter(c)) {
      const we = j + 1;
      let ws = j;
      let rh = fold(c);
      for (;;) {
        if (ws <= floor) break;
        const d = t.charCodeAt(ws - 1);
        if (!isLetter(d)) break;
        rh = (Math.imul(rh, 31) + fold(d)) | 0;
        ws--;
      }
      resolvedStart = -1;
      const cls = keywordAt(t, ws, we, floor, ns, ne, rh);
      if (wantStreet && chain && words < 5) {
        const cap = isUpper(t.charCodeAt(ws));
        if (cap) {
          if (ctx.street < 0) {
            if (words === 0) {
              const suf = streetSuffix(t, ws, we);
              if (suf === 1) ctx.street = ws;
              else if (suf === 2) {
                // "Große Hamburger Straße 5": extend over capitalised words before
                ctx.street = ws;
                let q = ws;
                for (let m = 0; m < 3 && prevWord(t, q, lim) && isUpper(t.charCodeAt(pwS)) && pwE === q - 1; m++) {
                  ctx.street = pwS;
                  q = pwS;
                }
              }
            }
            if (ctx.street < 0 && STREET_TYPES_LEADING.has(t, ws, we) && (lowerAt < 0 || connectorsOnly(t, we, p))) {
              ctx.street = ws;
            }
          }
        } else if (lowerAt < 0) lowerAt = ws; // checked lazily: is it a connector ("Rue de la Paix")?
      }
      // a street name right before the number decides it (keywords further back do not matter)
      if (ctx.street >= 0 && (cls === K_NONE || cls === K_WEAK_NEG)) return;
      if (cls !== K_NONE) {
        if (cls === K_WEAK_NEG) ctx.weakNeg = true;
        else {
          ctx.cls = cls;
          ctx.kwEnd = we;
          ctx.kwStart = resolvedStart >= 0 ? resolvedStart : ws;
          return;
        }
      }
      if (++words >= 4) return;
      ns = ws;
      ne = we;
      j = ws - 1;
      continue;
    }
    if (isDigit(c)) return; // previous number: its context is not ours
    if (c === 10 || c === 13 || c === 33 || c === 63 || c === 59) return; // \n \r ! ? ;
    if (c === 46 && j + 1 < t.length && isSpace(t.charCodeAt(j + 1))) {
      // sentence end, unless an abbreviation like "no." "tel." "St." "d.o.b."
      let q = j - 1;
      while (q >= lim && isLetter(t.charCodeAt(q))) q--;
      if (j - 1 - q >= 4 && streetSuffix(t, q + 1, j) === 0) return;
      if (j - 1 - q >= 2 && j + 2 < t.length && isUpper(t.charCodeAt(j + 2))) return; // "USD. Hi, ..." (not "D.O.B. May")
      chain = chain && j - 1 - q > 0;
    } else if (c === 44 || c === 40 || c === 41) chain = false; // , ( )
    j--;
  }
}
