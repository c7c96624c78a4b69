/**
 * Labelled test set for the PII module: deterministic generator (fixed seed) plus
 * hand-written tricky cases (tricky.ts). Every message lists the PII values it
 * contains (with type and offsets) and the decoy substrings that must stay intact.
 */
import type { PiiType } from "../../shared/pii/index.ts";
import { build, D, DECOY_CLASSES, type DecoyClass, type LabelledMessage, P, type Part } from "./labels.ts";
import { TRICKY } from "./tricky.ts";

export { build, D, DECOY_CLASSES, P };
export type { DecoyClass, LabelledMessage, Part };
export type { Span } from "./labels.ts";

// ---------------------------------------------------------------------------
// deterministic random
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    // mulberry32
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(a: number, b: number): number {
    return a + Math.floor(this.next() * (b - a + 1));
  }
  pick<T>(arr: readonly T[]): T {
    return arr[Math.floor(this.next() * arr.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  digits(n: number, firstMin = 0): string {
    let s = String(this.int(firstMin, 9));
    for (let k = 1; k < n; k++) s += String(this.int(0, 9));
    return s;
  }
  letters(n: number): string {
    let s = "";
    for (let k = 0; k < n; k++) s += String.fromCharCode(65 + this.int(0, 25));
    return s;
  }
}

// ---------------------------------------------------------------------------
// check digits
export function luhnComplete(partial: string): string {
  let sum = 0;
  let dbl = true;
  for (let k = partial.length - 1; k >= 0; k--) {
    let d = partial.charCodeAt(k) - 48;
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return partial + String((10 - (sum % 10)) % 10);
}
export function luhnOk(s: string): boolean {
  const d = s.replace(/\D/g, "");
  return luhnComplete(d.slice(0, -1)) === d;
}
export function gs1Complete(partial: string): string {
  let sum = 0;
  let w = 3;
  for (let k = partial.length - 1; k >= 0; k--) {
    sum += (partial.charCodeAt(k) - 48) * w;
    w = w === 3 ? 1 : 3;
  }
  return partial + String((10 - (sum % 10)) % 10);
}
function mod97(s: string): number {
  let r = 0;
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    if (c >= 48 && c <= 57) r = (r * 10 + c - 48) % 97;
    else r = (r * 100 + c - 55) % 97;
  }
  return r;
}
export function ibanFor(cc: string, bban: string): string {
  const check = 98 - mod97(bban + cc + "00");
  return cc + String(check).padStart(2, "0") + bban;
}
function group4(s: string): string {
  return s.replace(/(.{4})(?=.)/g, "$1 ");
}

// ---------------------------------------------------------------------------
const FIRST = ["john", "jane", "maria", "ahmed", "li", "olivia", "noah", "fatima", "lucas", "sofia", "chen", "amara", "pierre", "anna", "raj"];
const LAST = ["smith", "doe", "garcia", "khan", "wang", "muller", "rossi", "okafor", "silva", "dubois", "kowalski", "patel", "nguyen", "brown"];
const DOMAINS = ["example.com", "gmail.com", "outlook.de", "company.co.uk", "mail.example.org", "shop.io", "univ.edu", "web.de", "yahoo.fr", "startup.ai"];
const cap = (s: string) => s[0].toUpperCase() + s.slice(1);

export function genEmail(r: Rng): string {
  const f = r.pick(FIRST);
  const l = r.pick(LAST);
  const d = r.pick(DOMAINS);
  switch (r.int(0, 6)) {
    case 0:
      return `${f}.${l}@${d}`;
    case 1:
      return `${cap(f)}.${cap(l)}@${d.replace(/^./, (c) => c.toUpperCase()).replace(/\.[a-z]+$/, (x) => x.toUpperCase())}`;
    case 2:
      return `${f}+${r.pick(["news", "orders", "test", "2024"])}@${d}`;
    case 3:
      return `${f[0]}${l}${r.int(1, 99)}@mail.${r.pick(["acme", "globex", "initech"])}.co.uk`;
    case 4:
      return `${f}_${l}-${r.int(1, 9)}@${r.pick(["eu", "us", "support"])}.${d}`;
    case 5:
      return `${f[0]}${l}@${d}`.toUpperCase();
    default:
      return `${f}${r.int(1970, 2005)}@${d}`;
  }
}

function nanpAE(r: Rng): [string, string, string] {
  return [r.digits(3, 2), r.chance(0.3) ? "555" : r.digits(3, 2), r.digits(4)];
}

export function genPhone(r: Rng): string {
  const country = r.pick(["US", "US", "GB", "DE", "FR", "IN", "BR", "NG", "OTHER", "US", "GB"]);
  switch (country) {
    case "US": {
      const [a, e, s] = nanpAE(r);
      return r.pick([
        `(${a}) ${e}-${s}`, `${a}-${e}-${s}`, `${a}.${e}.${s}`, `${a} ${e} ${s}`, `+1 ${a} ${e} ${s}`,
        `+1-${a}-${e}-${s}`, `1-${a}-${e}-${s}`, `+1${a}${e}${s}`, `${a}${e}${s}`, `1 (${a}) ${e}-${s}`,
        `+1 (${a}) ${e}-${s}`, `(${a})${e}-${s}`,
      ]);
    }
    case "GB":
      return r.pick([
        `+44 20 ${r.digits(4, 3)} ${r.digits(4)}`, `020 ${r.digits(4, 3)} ${r.digits(4)}`,
        `+44 7${r.digits(3)} ${r.digits(6)}`, `07${r.digits(3)} ${r.digits(6)}`, `07${r.digits(9)}`,
        `(020) ${r.digits(4, 3)} ${r.digits(4)}`, `+44 (0)20 ${r.digits(4, 3)} ${r.digits(4)}`,
        `0161 ${r.digits(3)} ${r.digits(4)}`, `+447${r.digits(9)}`, `0121 ${r.digits(3)} ${r.digits(4)}`,
      ]);
    case "DE":
      return r.pick([
        `+49 30 ${r.digits(8, 1)}`, `030 ${r.digits(8, 1)}`, `030/${r.digits(8, 1)}`, `+49 151 ${r.digits(8)}`,
        `0151 ${r.digits(8)}`, `0151-${r.digits(8)}`, `+4915${r.digits(9)}`, `(030) ${r.digits(7, 1)}`,
        `089 ${r.digits(7, 1)}`, `0171 ${r.digits(3)} ${r.digits(4)}`,
      ]);
    case "FR": {
      const pairs = () => `${r.digits(2)} ${r.digits(2)} ${r.digits(2)} ${r.digits(2)}`;
      const m = r.pick(["1", "6", "7", "4"]);
      return r.pick([
        `+33 ${m} ${pairs()}`, `0${m} ${pairs()}`, `0${m}.${pairs().replace(/ /g, ".")}`, `0${m}${r.digits(8)}`,
        `+33${m}${r.digits(8)}`, `0${m}-${pairs().replace(/ /g, "-")}`,
      ]);
    }
    case "IN": {
      const m = r.digits(5, 6);
      const s = r.digits(5);
      return r.pick([`+91 ${m} ${s}`, `+91-${m}${s}`, `0${m} ${s}`, `${m} ${s}`, `${m}${s}`, `+91${m}${s}`, `+91 ${m}-${s}`]);
    }
    case "BR": {
      const ddd = r.pick(["11", "21", "31", "41", "51", "61", "71", "81", "85", "92"]);
      const mob = `9${r.digits(4)}-${r.digits(4)}`;
      return r.pick([
        `+55 ${ddd} ${mob}`, `(${ddd}) ${mob}`, `(${ddd}) ${r.digits(4, 2).replace(/^[6-9]/, "3")}-${r.digits(4)}`,
        `${ddd} ${mob}`, `+55 (${ddd}) ${mob}`, `+55${ddd}9${r.digits(8)}`,
      ]);
    }
    case "NG": {
      const pre = r.pick(["803", "806", "813", "705", "809", "902"]);
      const a = r.digits(3);
      const b = r.digits(4);
      return r.pick([`+234 ${pre} ${a} ${b}`, `0${pre} ${a} ${b}`, `0${pre}${a}${b}`, `+234 (0) ${pre} ${a} ${b}`, `0${pre}-${a}-${b}`, `+234${pre}${a}${b}`]);
    }
    default:
      return r.pick([
        `+81 3-${r.digits(4)}-${r.digits(4)}`, `+61 2 ${r.digits(4)} ${r.digits(4)}`,
        `+86 138 ${r.digits(4)} ${r.digits(4)}`, `+7 495 ${r.digits(3)}-${r.digits(2)}-${r.digits(2)}`,
        `+27 21 ${r.digits(3)} ${r.digits(4)}`, `+971 50 ${r.digits(3)} ${r.digits(4)}`,
        `+52 55 ${r.digits(4)} ${r.digits(4)}`, `+34 612 ${r.digits(2)} ${r.digits(2)} ${r.digits(2)}`,
        `+39 06 ${r.digits(4)} ${r.digits(4)}`, `+353 1 ${r.digits(3)} ${r.digits(4)}`,
        `+31 20 ${r.digits(3)} ${r.digits(4)}`, `+65 ${r.digits(4, 6)} ${r.digits(4)}`,
        `0044 20 ${r.digits(4, 3)} ${r.digits(4)}`, `0049 30 ${r.digits(8, 1)}`, `+41 44 ${r.digits(3)} ${r.digits(2)} ${r.digits(2)}`,
      ]);
  }
}

export function genSsnParts(r: Rng): [string, string, string] {
  let area = r.int(1, 899);
  if (area === 666) area = 667;
  return [String(area).padStart(3, "0"), String(r.int(1, 99)).padStart(2, "0"), String(r.int(1, 9999)).padStart(4, "0")];
}

const CARD_PREFIXES: Array<[string, number]> = [
  ["4", 16], ["4", 16], ["51", 16], ["55", 16], ["2221", 16], ["2720", 16], ["34", 15], ["37", 15], ["6011", 16],
  ["65", 16], ["3528", 16], ["3589", 16], ["62", 16], ["62", 19], ["4", 19], ["36", 16], ["6759", 16], ["2200", 16],
];
export function genCardDigits(r: Rng): string {
  const [pre, len] = r.pick(CARD_PREFIXES);
  return luhnComplete(pre + r.digits(len - pre.length - 1));
}
export function formatCard(r: Rng, d: string): string {
  const style = r.int(0, 2);
  if (style === 0) return d;
  const sep = style === 1 ? " " : "-";
  if (d.length === 15) return `${d.slice(0, 4)}${sep}${d.slice(4, 10)}${sep}${d.slice(10)}`;
  return d.replace(/(\d{4})(?=\d)/g, `$1${sep}`);
}

const IBAN_SPECS: Array<[string, string]> = [
  ["DE", "18n"], ["GB", "4a14n"], ["FR", "23n"], ["ES", "20n"], ["IT", "1a22n"], ["NL", "4a10n"], ["BE", "12n"],
  ["CH", "17n"], ["AT", "16n"], ["PL", "24n"], ["PT", "21n"], ["IE", "4a14n"], ["SE", "20n"], ["NO", "11n"],
  ["DK", "14n"], ["FI", "14n"],
];
export function genIban(r: Rng): string {
  const [cc, spec] = r.pick(IBAN_SPECS);
  let bban = "";
  for (const [, n, k] of spec.matchAll(/(\d+)([an])/g)) bban += k === "a" ? r.letters(Number(n)) : r.digits(Number(n));
  const iban = ibanFor(cc, bban);
  return r.chance(0.6) ? group4(iban) : iban;
}

export function genIpv4(r: Rng): string {
  return r.pick([
    `192.168.${r.int(0, 255)}.${r.int(1, 254)}`, `10.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(1, 254)}`,
    `${r.int(11, 223)}.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(1, 254)}`, `172.${r.int(16, 31)}.${r.int(0, 255)}.${r.int(1, 254)}`,
    "8.8.8.8", `203.0.113.${r.int(1, 254)}`,
  ]);
}
export function genIpv6(r: Rng): string {
  const h = () => r.int(0, 0xffff).toString(16);
  const h4 = () => r.int(0x1000, 0xffff).toString(16);
  return r.pick([
    `2001:0db8:85a3:0000:0000:8a2e:0370:${r.int(0x1000, 0x9fff).toString(16)}`, `2001:db8::${h()}:${h()}`,
    `fe80::${h4()}:${h()}:${h()}:${h4()}`, `::ffff:192.0.2.${r.int(1, 254)}`, `2001:db8::1`,
    `2a00:1450:4001:${h()}::${h()}`, `${h4()}:${h4()}:${h4()}:${h4()}:${h4()}:${h4()}:${h4()}:${h4()}`.toUpperCase(),
  ]);
}

const STREET_NAMES = ["Main", "Oak", "Maple", "Elm", "Pennsylvania", "Baker", "Sunset", "Lake Shore", "Market", "Church", "High", "King", "Queen Victoria", "Cedar", "Pine", "Washington", "Lincoln", "Mill", "Spring", "River", "5th", "42nd", "Ocean", "Abbey", "Station", "Park"];
const STREET_TYPES = ["Street", "St", "Avenue", "Ave", "Road", "Rd", "Boulevard", "Blvd", "Lane", "Ln", "Drive", "Dr", "Court", "Ct", "Place", "Terrace", "Way", "Close", "Crescent", "Square", "Parkway", "Highway"];
const US_CITIES: Array<[string, string]> = [["Springfield", "IL"], ["Austin", "TX"], ["Portland", "OR"], ["New York", "NY"], ["San Francisco", "CA"], ["Boston", "MA"], ["Miami", "FL"]];
const UK_CITIES = ["London", "Manchester", "Leeds", "Bristol", "Edinburgh"];
const DE_NAMES = ["Haupt", "Bahnhof", "Goethe", "Schiller", "Linden", "Berliner", "Kirch", "Garten"];
const DE_CITIES: Array<[string, string]> = [["10115", "Berlin"], ["80331", "München"], ["20095", "Hamburg"], ["50667", "Köln"], ["60311", "Frankfurt am Main"]];

/** Returns [core, tail]: the core must be detected, the tail may be. */
export function genAddress(r: Rng): [string, string] {
  const style = r.int(0, 9);
  const num = String(r.int(1, 9999));
  if (style <= 3) {
    const core = `${r.chance(0.15) ? r.int(1, 300) + r.pick(["A", "B", "a"]) : num} ${r.pick(STREET_NAMES)} ${r.pick(STREET_TYPES)}`;
    const [c, st] = r.pick(US_CITIES);
    const tail = r.pick(["", `, ${c}, ${st} ${r.digits(5, 1)}`, ` Apt ${r.int(1, 40)}${r.pick(["", "B"])}`, `, ${c}`, `, Suite ${r.int(100, 999)}, ${c}, ${st} ${r.digits(5, 1)}`, ` NW, ${c}, ${st} ${r.digits(5, 1)}-${r.digits(4)}`]);
    return [core, tail];
  }
  if (style === 4) {
    const pc = `${r.pick(["SW1A", "NW1", "M1", "LS1", "BS8", "EH1"])} ${r.int(1, 9)}${r.letters(2)}`;
    return [`${r.int(1, 200)} ${r.pick(STREET_NAMES)} ${r.pick(["Street", "Road", "Lane", "Close", "Gardens", "Mews"])}`, r.pick([`, ${r.pick(UK_CITIES)} ${pc}`, `, ${r.pick(UK_CITIES)}`, ""])];
  }
  if (style === 5) {
    return [`${r.int(1, 150)} ${r.pick(["rue", "avenue", "boulevard", "place"])} ${r.pick(["de la Paix", "du Faubourg Saint-Honoré", "des Lilas", "Victor Hugo", "de Rivoli"])}`, r.pick([`, 750${r.int(10, 20)} Paris`, `, 69002 Lyon`, ""])];
  }
  if (style === 6) {
    const [pc, city] = r.pick(DE_CITIES);
    return [`${r.pick(DE_NAMES)}${r.pick(["straße", "strasse", "str.", "weg", "allee", "platz"])} ${r.int(1, 120)}${r.pick(["", "", "a"])}`, r.pick([`, ${pc} ${city}`, ""])];
  }
  if (style === 7) {
    return [`${r.pick(["Kerk", "Dorp", "Molen"])}${r.pick(["straat", "laan", "gracht"])} ${r.int(1, 200)}`, r.pick([`, ${r.int(1000, 9999)} ${r.letters(2)} Amsterdam`, ""])];
  }
  if (style === 8) {
    return [`${r.pick(["Via", "Calle", "Rua", "Avenida", "Piazza"])} ${r.pick(["Roma", "Mayor", "Augusta", "Paulista", "Garibaldi", "de Alcalá"])} ${r.int(1, 300)}`, r.pick(["", `, ${r.digits(5, 0)} ${r.pick(["Roma", "Madrid", "Lisboa"])}`])];
  }
  return [`PO Box ${r.int(10, 9999)}`, r.pick(["", `, ${r.pick(US_CITIES)[0]}, ${r.pick(US_CITIES)[1]} ${r.digits(5, 1)}`])];
}

function dobValue(r: Rng): string {
  const d = r.int(1, 28);
  const m = r.int(1, 12);
  const y = r.int(1940, 2006);
  const M = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"][m - 1];
  const p2 = (x: number) => String(x).padStart(2, "0");
  return r.pick([
    `${p2(m)}/${p2(d)}/${y}`, `${y}-${p2(m)}-${p2(d)}`, `${d} ${M} ${y}`, `${M} ${d}, ${y}`, `${p2(d)}.${p2(m)}.${y}`,
    `${d}${d === 1 || d === 21 ? "st" : d === 2 || d === 22 ? "nd" : d === 3 || d === 23 ? "rd" : "th"} of ${M}, ${y}`,
    `${M.slice(0, 3)} ${d} ${y}`, `${p2(d)}-${M.slice(0, 3)}-${y}`, `${d}/${m}/${String(y).slice(2)}`,
  ]);
}

// ---------------------------------------------------------------------------
// decoys
function orderNo(r: Rng): string {
  const len = r.int(8, 12);
  // include 10-digit numbers that look exactly like NANP phones
  if (len === 10 && r.chance(0.5)) return nanpAE(r).join("");
  return r.digits(len, 1);
}
function failingLuhn(r: Rng, len: number, first: string): string {
  let d = first + r.digits(len - first.length);
  if (luhnOk(d)) d = d.slice(0, -1) + String((Number(d.slice(-1)) + 1) % 10);
  return d;
}

type DecoyGen = (r: Rng) => Part[];
export const DECOY_GENS: Record<DecoyClass, DecoyGen[]> = {
  ORDER_NUMBER: [
    (r) => ["My order #", D("ORDER_NUMBER", orderNo(r)), " still hasn't arrived."],
    (r) => ["Order ", D("ORDER_NUMBER", orderNo(r)), " was charged twice"],
    (r) => ["your order number is ", D("ORDER_NUMBER", orderNo(r)), "."],
    (r) => ["Can you check order no. ", D("ORDER_NUMBER", orderNo(r)), "?"],
    (r) => ["re: #", D("ORDER_NUMBER", orderNo(r))],
    (r) => ["Order ID: ", D("ORDER_NUMBER", orderNo(r)), " – status?"],
    (r) => ["Meine Bestellnummer ist ", D("ORDER_NUMBER", orderNo(r)), ", wo bleibt das Paket?"],
    (r) => ["ma commande ", D("ORDER_NUMBER", orderNo(r)), " n'est pas arrivée"],
    (r) => ["pedido ", D("ORDER_NUMBER", orderNo(r)), " cancelado"],
    (r) => ["I'm asking about order ", D("ORDER_NUMBER", orderNo(r)), " from last week"],
  ],
  PO_NUMBER: [
    (r) => ["PO ", D("PO_NUMBER", failingLuhn(r, 16, r.pick(["4", "5", "3", "6", "1"])))],
    (r) => ["Please reference PO# ", D("PO_NUMBER", failingLuhn(r, 16, r.pick(["45", "51", "60"]))), " on the invoice"],
    (r) => ["purchase order ", D("PO_NUMBER", failingLuhn(r, 16, "4").replace(/(\d{4})(?=\d)/g, "$1 ")), " approved"],
    (r) => ["P.O. ", D("PO_NUMBER", failingLuhn(r, 16, r.pick(["5", "4"])).replace(/(\d{4})(?=\d)/g, "$1-"))],
    (r) => ["Our PO number is ", D("PO_NUMBER", failingLuhn(r, 16, "4")), "."],
  ],
  INVOICE_NUMBER: [
    (r) => ["invoice ", D("INVOICE_NUMBER", `INV-${r.int(2019, 2025)}-${r.digits(5)}`)],
    (r) => ["Invoice #", D("INVOICE_NUMBER", r.digits(10, 2)), " is overdue"],
    (r) => ["see invoice no. ", D("INVOICE_NUMBER", r.digits(r.int(8, 11), 1))],
    (r) => ["Invoice ", D("INVOICE_NUMBER", nanpAE(r).join("")), " attached"],
    (r) => ["Rechnungsnummer ", D("INVOICE_NUMBER", r.digits(10, 1))],
    (r) => ["facture n° ", D("INVOICE_NUMBER", r.digits(10, 1))],
  ],
  SKU: [
    (r) => ["SKU ", D("SKU", `${r.letters(2)}-${r.digits(4)}-${r.letters(2)}`)],
    (r) => ["item ", D("SKU", `${r.digits(5)}-BLK-${r.pick(["S", "M", "XL"])}`), " is out of stock"],
    (r) => ["part no. ", D("SKU", `${r.digits(2)}-${r.digits(4)}-${r.digits(2)}`)],
    (r) => ["SKU: ", D("SKU", r.digits(10, 2)), ", size M"],
    (r) => ["model ", D("SKU", `${r.letters(2)}-${r.digits(4)}`), " please"],
  ],
  TRACKING_NUMBER: [
    (r) => ["tracking number ", D("TRACKING_NUMBER", `1Z${r.letters(3)}${r.digits(3)}${r.letters(2)}${r.digits(8)}`)],
    (r) => ["Tracking: ", D("TRACKING_NUMBER", `9400 ${r.digits(4)} ${r.digits(4)} ${r.digits(4)} ${r.digits(4)} ${r.digits(2)}`)],
    (r) => ["FedEx tracking ", D("TRACKING_NUMBER", r.pick([r.digits(12, 1), `${r.digits(4, 1)} ${r.digits(4)} ${r.digits(4)}`]))],
    (r) => ["DHL shipment ", D("TRACKING_NUMBER", r.digits(10, 1)), " is delayed"],
    (r) => ["track parcel ", D("TRACKING_NUMBER", `JD${r.digits(12)}`)],
    (r) => ["tracking #", D("TRACKING_NUMBER", r.digits(r.int(10, 15), 1))],
    (r) => ["Sendungsnummer ", D("TRACKING_NUMBER", r.digits(12, 0))],
    (r) => ["ref ", D("TRACKING_NUMBER", nanpAE(r).join(""))],
  ],
  EAN_UPC: [
    (r) => ["EAN ", D("EAN_UPC", gs1Complete(r.pick(["400", "401", "590", "871", "300"]) + r.digits(9)))],
    (r) => ["UPC ", D("EAN_UPC", gs1Complete("0" + r.digits(10)))],
    (r) => ["barcode ", D("EAN_UPC", gs1Complete(r.digits(12, 1))), " scans wrong"],
    (r) => ["scanned ", D("EAN_UPC", gs1Complete(r.pick(["4", "5", "7", "8"]) + r.digits(11))), " at the till"],
    (r) => ["the box says ", D("EAN_UPC", gs1Complete(r.digits(11, 0)))],
  ],
  PRICE: [
    (r) => ["it costs ", D("PRICE", `$${r.int(1, 9)},${r.digits(3)}.${r.digits(2)}`)],
    (r) => ["Preis ", D("PRICE", `${r.int(1, 9)}.${r.digits(3)},${r.digits(2)} €`)],
    (r) => ["total ", D("PRICE", `€${r.int(10, 999)},${r.digits(2)}`)],
    (r) => ["refund of ", D("PRICE", `USD ${r.int(1, 99)},${r.digits(3)}.00`)],
    (r) => ["only ", D("PRICE", `£${r.int(1, 9)},${r.digits(3)}`)],
    (r) => ["paid ", D("PRICE", `₹${r.int(1, 99)},${r.digits(2)},${r.digits(3)}`)],
    (r) => ["price ", D("PRICE", `${r.int(1, 9)} ${r.digits(3)},${r.digits(2)} €`)],
    (r) => ["a bill of ", D("PRICE", `$${r.int(1000000, 9999999).toLocaleString("en-US")}`)],
    (r) => ["charged ", D("PRICE", `${r.int(1, 999)}.${r.digits(2)} USD`)],
  ],
  QUANTITY: [
    (r) => ["qty ", D("QUANTITY", String(r.int(1, 5000)))],
    (r) => ["send ", D("QUANTITY", `${r.int(2, 99)} boxes`)],
    (r) => ["we need ", D("QUANTITY", `${r.int(100, 9999)} units`)],
    (r) => ["", D("QUANTITY", `${r.int(2, 40)} pallets of ${r.int(100, 2000)} pcs`)],
    (r) => ["order quantity ", D("QUANTITY", `${r.int(1, 9)},${r.digits(3)} pieces`)],
    (r) => ["", D("QUANTITY", `${r.int(2, 12)} x ${r.int(10, 500)} ml`)],
  ],
  DATE: [
    (r) => ["on ", D("DATE", `${r.int(2015, 2026)}-${String(r.int(1, 12)).padStart(2, "0")}-${String(r.int(1, 28)).padStart(2, "0")}`)],
    (r) => ["delivered ", D("DATE", `${String(r.int(1, 12)).padStart(2, "0")}/${String(r.int(1, 28)).padStart(2, "0")}/${r.int(2015, 2026)}`)],
    (r) => ["am ", D("DATE", `${String(r.int(1, 28)).padStart(2, "0")}.${String(r.int(1, 12)).padStart(2, "0")}.${r.int(2015, 2026)}`)],
    (r) => ["since ", D("DATE", `${r.pick(["Jan", "March", "Sept", "December"])} ${r.int(1, 28)}, ${r.int(2015, 2026)}`)],
    (r) => ["due ", D("DATE", `${r.int(1, 28)} ${r.pick(["January", "May", "October"])} ${r.int(2015, 2026)}`)],
    (r) => ["from ", D("DATE", `${r.int(1, 12)}/${r.int(1, 28)}/${r.int(15, 26)}`)],
  ],
  TIME: [
    (r) => ["at ", D("TIME", `${r.int(0, 23)}:${String(r.int(0, 59)).padStart(2, "0")}`)],
    (r) => ["logged ", D("TIME", `${String(r.int(0, 23)).padStart(2, "0")}:${String(r.int(0, 59)).padStart(2, "0")}:${String(r.int(0, 59)).padStart(2, "0")}`)],
    (r) => ["open ", D("TIME", `${r.int(7, 10)}:00-${r.int(16, 20)}:30`)],
    (r) => ["around ", D("TIME", `${r.int(1, 12)}:${String(r.int(0, 59)).padStart(2, "0")} ${r.pick(["AM", "PM", "pm"])}`)],
    (r) => ["by ", D("TIME", `${r.int(1, 12)}${r.pick(["am", "pm"])}`)],
  ],
  VERSION: [
    (r) => ["running ", D("VERSION", `v${r.int(1, 9)}.${r.int(0, 20)}.${r.int(0, 9)}`)],
    (r) => ["Windows ", D("VERSION", `10.0.${r.int(10000, 22631)}.${r.int(100, 4000)}`)],
    (r) => ["version ", D("VERSION", `${r.int(1, 9)}.${r.int(0, 9)}.${r.int(0, 9)}.${r.int(0, 99)}`)],
    (r) => ["app ", D("VERSION", `${r.int(1, 9)}.${r.int(0, 30)}.${r.int(0, 9)}`), " crashes"],
    (r) => ["build ", D("VERSION", `${r.int(20000, 23000)}.${r.int(1000, 3000)}`)],
    (r) => ["Chrome ", D("VERSION", `${r.int(100, 125)}.0.${r.int(4000, 6999)}.${r.int(10, 200)}`)],
    (r) => ["firmware ", D("VERSION", `${r.int(1, 4)}.${r.int(0, 9)}.${r.int(0, 9)}.${r.int(0, 255)}`)],
  ],
  OTHER_NUMBER: [
    (r) => ["battery at ", D("OTHER_NUMBER", `${r.int(1, 99)}.${r.int(0, 9)}%`)],
    (r) => ["screen ", D("OTHER_NUMBER", `${r.pick(["1920x1080", "2560x1440", "3840x2160"])}`)],
    (r) => ["ISBN ", D("OTHER_NUMBER", `978-${r.int(0, 9)}-${r.digits(2)}-${r.digits(6)}-${r.int(0, 9)}`)],
    (r) => ["ticket #", D("OTHER_NUMBER", nanpAE(r).join(""))],
    (r) => ["case ", D("OTHER_NUMBER", r.digits(8, 0))],
    (r) => ["between ", D("OTHER_NUMBER", `${r.int(10, 50)}-${r.int(51, 99)}`), " items"],
    (r) => ["in ", D("OTHER_NUMBER", String(r.int(1990, 2030)))],
    (r) => ["customer number ", D("OTHER_NUMBER", r.digits(10, 2))],
    (r) => ["account ", D("OTHER_NUMBER", r.digits(r.int(8, 12), 1))],
    (r) => ["ZIP ", D("OTHER_NUMBER", r.digits(5, 0))],
    (r) => ["size ", D("OTHER_NUMBER", `${r.int(20, 200)} x ${r.int(20, 200)} cm`)],
  ],
};

// ---------------------------------------------------------------------------
// PII phrasings
type PiiGen = (r: Rng) => Part[];
const end = (r: Rng) => r.pick([".", "", "!", " thanks", ", thanks!", " - cheers", "."]);

export const PII_GENS: Record<PiiType, PiiGen[]> = {
  EMAIL: [
    (r) => ["email me at ", P("EMAIL", genEmail(r)), end(r)],
    (r) => ["(", P("EMAIL", genEmail(r)), ")"],
    (r) => ["Contact: <", P("EMAIL", genEmail(r)), ">"],
    (r) => ["my new address is ", P("EMAIL", genEmail(r)), ", please update"],
    (r) => ["mailto:", P("EMAIL", genEmail(r))],
    (r) => [P("EMAIL", genEmail(r)), " is my work mail"],
  ],
  PHONE: [
    (r) => ["call me at ", P("PHONE", genPhone(r)), end(r)],
    (r) => ["my number is ", P("PHONE", genPhone(r)), end(r)],
    (r) => ["Tel: ", P("PHONE", genPhone(r))],
    (r) => ["WhatsApp ", P("PHONE", genPhone(r)), " anytime"],
    (r) => ["reach me on ", P("PHONE", genPhone(r)), " after 5"],
    (r) => ["mobile: ", P("PHONE", genPhone(r)), end(r)],
    (r) => ["You can text ", P("PHONE", genPhone(r)), " or email"],
    (r) => ["(", P("PHONE", genPhone(r)), ")"],
    (r) => [P("PHONE", genPhone(r)), " is the best number"],
  ],
  SSN: [
    (r) => ["my SSN is ", P("SSN", genSsnParts(r).join("-")), end(r)],
    (r) => ["SSN: ", P("SSN", genSsnParts(r).join(r.pick(["-", "", " "])))],
    (r) => ["social security number ", P("SSN", genSsnParts(r).join(r.pick(["-", ""])))],
    (r) => ["it's ", P("SSN", genSsnParts(r).join("-")), " for the tax form"],
    (r) => ["SSN ", P("SSN", genSsnParts(r).join(" ")), end(r)],
  ],
  CREDIT_CARD: [
    (r) => ["my card is ", P("CREDIT_CARD", formatCard(r, genCardDigits(r))), end(r)],
    (r) => ["charge ", P("CREDIT_CARD", formatCard(r, genCardDigits(r))), " exp 04/27"],
    (r) => ["Visa ", P("CREDIT_CARD", formatCard(r, genCardDigits(r)))],
    (r) => ["use ", P("CREDIT_CARD", formatCard(r, genCardDigits(r))), " please"],
    (r) => ["cc: ", P("CREDIT_CARD", formatCard(r, genCardDigits(r))), ", cvv 123"],
    (r) => [P("CREDIT_CARD", formatCard(r, genCardDigits(r)))],
  ],
  IBAN: [
    (r) => ["IBAN: ", P("IBAN", genIban(r))],
    (r) => ["please refund to ", P("IBAN", genIban(r)), end(r)],
    (r) => ["my account ", P("IBAN", genIban(r)), " (BIC DEUTDEFF)"],
    (r) => ["transfer to ", P("IBAN", genIban(r)), " today"],
  ],
  IP_ADDRESS: [
    (r) => ["my IP is ", P("IP_ADDRESS", genIpv4(r)), end(r)],
    (r) => ["server ", P("IP_ADDRESS", genIpv4(r)), ":8080 is down"],
    (r) => ["blocked from ", P("IP_ADDRESS", genIpv6(r)), end(r)],
    (r) => ["ping ", P("IP_ADDRESS", genIpv4(r)), "/24 subnet"],
    (r) => ["login from [", P("IP_ADDRESS", genIpv6(r)), "]:443"],
    (r) => ["http://", P("IP_ADDRESS", genIpv4(r)), "/admin"],
    (r) => ["IPv6 ", P("IP_ADDRESS", genIpv6(r))],
  ],
  STREET_ADDRESS: [
    (r) => {
      const [core, tail] = genAddress(r);
      return ["I live at ", P("STREET_ADDRESS", core), tail, end(r)];
    },
    (r) => {
      const [core, tail] = genAddress(r);
      return ["ship it to ", P("STREET_ADDRESS", core), tail];
    },
    (r) => {
      const [core, tail] = genAddress(r);
      return ["New address: ", P("STREET_ADDRESS", core), tail, end(r)];
    },
    (r) => {
      const [core, tail] = genAddress(r);
      return [P("STREET_ADDRESS", core), tail, " is where we moved"];
    },
    (r) => ["i live at ", P("STREET_ADDRESS", `${r.int(1, 999)} ${r.pick(["wallaby", "oak", "main", "baker"])} ${r.pick(["way", "street", "road", "st", "avenue"])}`), " now"],
  ],
  PASSPORT: [
    (r) => ["passport number ", P("PASSPORT", r.digits(9, 1)), end(r)],
    (r) => ["Passport: ", P("PASSPORT", `C${r.digits(2)}X${r.digits(2)}${r.letters(1)}${r.digits(2)}`)],
    (r) => ["my passport no. is ", P("PASSPORT", `${r.letters(1)}${r.digits(7)}`)],
    (r) => ["passport #", P("PASSPORT", `${r.letters(2)}${r.digits(7)}`)],
    (r) => ["Reisepass ", P("PASSPORT", `${r.digits(2)}${r.letters(2)}${r.digits(5)}`), end(r)],
  ],
  DATE_OF_BIRTH: [
    (r) => ["DOB: ", P("DATE_OF_BIRTH", dobValue(r))],
    (r) => ["date of birth ", P("DATE_OF_BIRTH", dobValue(r)), end(r)],
    (r) => ["I was born on ", P("DATE_OF_BIRTH", dobValue(r))],
    (r) => ["D.O.B. ", P("DATE_OF_BIRTH", dobValue(r)), ", male"],
    (r) => ["birthday: ", P("DATE_OF_BIRTH", dobValue(r))],
    (r) => ["Geburtsdatum ", P("DATE_OF_BIRTH", dobValue(r))],
  ],
  NATIONAL_ID: [
    (r) => ["NI number ", P("NATIONAL_ID", r.pick([`${r.pick(["AB", "QQ", "JG", "CE"])} ${r.digits(2)} ${r.digits(2)} ${r.digits(2)} ${r.pick(["A", "B", "C", "D"])}`, `${r.pick(["AB", "QQ", "JG"])}${r.digits(6)}${r.pick(["A", "C", "D"])}`]))],
    (r) => ["national insurance number: ", P("NATIONAL_ID", `${r.pick(["AB", "QQ", "JG"])}${r.digits(6)}${r.pick(["A", "C", "D"])}`)],
    (r) => ["SIN ", P("NATIONAL_ID", `${r.digits(3)} ${r.digits(3)} ${r.digits(3)}`)],
    (r) => ["Aadhaar ", P("NATIONAL_ID", `${r.digits(4, 2)} ${r.digits(4)} ${r.digits(4)}`)],
    (r) => ["CPF ", P("NATIONAL_ID", `${r.digits(3)}.${r.digits(3)}.${r.digits(3)}-${r.digits(2)}`)],
    (r) => ["my tax ID is ", P("NATIONAL_ID", `${r.digits(2)}-${r.digits(7)}`)],
    (r) => ["DNI ", P("NATIONAL_ID", `${r.digits(8)}${r.letters(1)}`)],
    (r) => ["national ID number ", P("NATIONAL_ID", r.digits(r.int(9, 13), 1))],
    (r) => ["Personalausweis ", P("NATIONAL_ID", `${r.letters(1)}${r.digits(2)}${r.letters(1)}${r.digits(5)}`)],
  ],
  DRIVERS_LICENSE: [
    (r) => ["driver's license ", P("DRIVERS_LICENSE", `${r.letters(1)}${r.digits(7)}`)],
    (r) => ["driving licence ", P("DRIVERS_LICENSE", `${r.letters(5)}${r.digits(6)}${r.letters(2)}${r.digits(1)}${r.letters(2)}`)],
    (r) => ["DL# ", P("DRIVERS_LICENSE", `${r.letters(1)}${r.digits(3)}-${r.digits(3)}-${r.digits(2)}-${r.digits(3)}-${r.digits(1)}`)],
    (r) => ["drivers license number ", P("DRIVERS_LICENSE", `${r.digits(3)} ${r.digits(3)} ${r.digits(3)}`)],
    (r) => ["my driver licence no. is ", P("DRIVERS_LICENSE", r.digits(8, 1)), end(r)],
    (r) => ["Führerschein ", P("DRIVERS_LICENSE", `${r.letters(1)}${r.digits(3)}${r.letters(3)}${r.digits(1)}${r.letters(1)}${r.digits(2)}`)],
  ],
  MEDICAL_RECORD: [
    (r) => ["MRN: ", P("MEDICAL_RECORD", r.digits(8))],
    (r) => ["medical record number ", P("MEDICAL_RECORD", `${r.digits(3)}-${r.digits(3)}-${r.digits(3)}`)],
    (r) => ["patient ID ", P("MEDICAL_RECORD", `P-${r.digits(6)}`)],
    (r) => ["NHS number ", P("MEDICAL_RECORD", `${r.digits(3, 4)} ${r.digits(3)} ${r.digits(4)}`)],
    (r) => ["Medicare number ", P("MEDICAL_RECORD", `${r.int(1, 9)}${r.letters(2)}${r.digits(1)}-${r.letters(2)}${r.digits(1)}-${r.letters(2)}${r.digits(2)}`)],
    (r) => ["health insurance number ", P("MEDICAL_RECORD", `${r.letters(1)}${r.digits(9)}`)],
    (r) => ["hospital number ", P("MEDICAL_RECORD", `H${r.digits(7)}`)],
  ],
};

const OPENERS = ["", "", "Hi, ", "Hello! ", "Quick question: ", "Thanks. ", "Hey team, ", "Bonjour, ", "Hallo, "];

/** Generates the labelled set: for every PII type and every decoy class, many messages. */
export function generateDataset(seed = 20240611, perType = 110, perDecoy = 55): LabelledMessage[] {
  const r = new Rng(seed);
  const out: LabelledMessage[] = [];
  const types = Object.keys(PII_GENS) as PiiType[];
  for (const type of types) {
    const gens = PII_GENS[type];
    for (let k = 0; k < perType; k++) {
      const parts: Part[] = [r.pick(OPENERS), ...gens[k % gens.length](r)];
      if (r.chance(0.5)) {
        const cls = r.pick(DECOY_CLASSES);
        const dparts = r.pick(DECOY_GENS[cls])(r);
        if (r.chance(0.5)) parts.push(" Also, ", ...dparts, ".");
        else parts.unshift(...dparts, ". ");
      }
      out.push(build(`${type}-${k}`, parts));
    }
  }
  for (const cls of DECOY_CLASSES) {
    const gens = DECOY_GENS[cls];
    for (let k = 0; k < perDecoy; k++) {
      const parts: Part[] = [r.pick(OPENERS), ...gens[k % gens.length](r)];
      if (r.chance(0.4)) {
        const other = r.pick(DECOY_CLASSES);
        parts.push(r.pick([", and ", ". ", "; "]), ...r.pick(DECOY_GENS[other])(r));
      }
      parts.push(r.pick([".", "", "?", " thanks"]));
      out.push(build(`${cls}-${k}`, parts));
    }
  }
  // mixed: two PII + two decoys
  for (let k = 0; k < 120; k++) {
    const parts: Part[] = [r.pick(OPENERS)];
    const t1 = r.pick(types);
    const t2 = r.pick(types);
    parts.push(...r.pick(DECOY_GENS[r.pick(DECOY_CLASSES)])(r), ". ");
    parts.push(...r.pick(PII_GENS[t1])(r), " ");
    parts.push(...r.pick(DECOY_GENS[r.pick(DECOY_CLASSES)])(r), ". ");
    parts.push(...r.pick(PII_GENS[t2])(r));
    out.push(build(`MIXED-${k}`, parts));
  }
  TRICKY.forEach((parts, k) => out.push(build(`TRICKY-${k}`, parts)));
  return out;
}
