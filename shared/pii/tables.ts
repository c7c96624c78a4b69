/** Static reference tables: calling codes, IBAN lengths, card issuers, street vocabulary, months. */
import { WordSet } from "./chars.ts";

// ---------------------------------------------------------------------------
// ITU-T E.164 country calling codes. The code space is prefix-free:
// 1 and 7 are one digit, the listed two-digit codes are complete codes, and
// every other assigned code is three digits inside one of the listed zones.
const CC2 = new Set([
  20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54, 55, 56, 57, 58,
  60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98,
]);
const CC3_ZONES = new Set([21, 22, 23, 24, 25, 26, 29, 35, 37, 38, 42, 50, 59, 67, 68, 69, 80, 85, 87, 88, 96, 97, 99]);

/**
 * Length of the country calling code at the start of a digit string given as its
 * first three digits (d1,d2,d3 as numbers), or 0 when no code can start that way.
 */
export function callingCodeLength(d1: number, d2: number, _d3: number): number {
  if (d1 === 1 || d1 === 7) return 1;
  if (d1 === 0) return 0;
  const two = d1 * 10 + d2;
  if (CC2.has(two)) return 2;
  if (CC3_ZONES.has(two)) return 3;
  return 0;
}

/** [min, max] length of the national significant number after the calling code. Default [6, 12]. */
const NSN: Record<number, [number, number]> = {
  1: [10, 10], 7: [10, 10], 20: [9, 10], 27: [9, 9], 30: [10, 10], 31: [9, 9], 32: [8, 9], 33: [9, 9],
  34: [9, 9], 36: [8, 9], 39: [6, 11], 40: [9, 9], 41: [9, 9], 43: [4, 13], 44: [9, 10], 45: [8, 8],
  46: [7, 9], 47: [8, 8], 48: [9, 9], 49: [6, 13], 52: [10, 10], 55: [10, 11], 60: [7, 10], 61: [9, 9],
  62: [8, 12], 63: [8, 10], 64: [8, 10], 65: [8, 8], 66: [8, 9], 81: [9, 10], 82: [8, 10], 84: [9, 10],
  86: [10, 11], 90: [10, 10], 91: [10, 10], 92: [9, 10], 234: [8, 10], 254: [9, 9], 351: [9, 9],
  353: [7, 9], 966: [9, 9], 971: [8, 9], 972: [8, 9],
};
export function nsnRange(cc: number): [number, number] {
  return NSN[cc] ?? [6, 12];
}

// ---------------------------------------------------------------------------
/** IBAN length per country (SWIFT IBAN registry). */
const IBAN_LEN_LIST =
  "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BI27 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DJ27 DK18 DO28 EE20 EG29 ES24 FI18 FK18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 IL23 IQ23 IS26 IT27 JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 LY25 MC27 MD24 ME22 MK19 MN20 MR27 MT31 MU30 NI28 NL18 NO15 OM23 PK24 PL28 PS29 PT25 QA29 RO24 RS22 RU33 SA24 SC31 SD18 SE24 SI19 SK24 SM27 SO23 ST25 SV28 TL23 TN24 TR26 UA29 VA22 VG24 XK20 YE30";
export const IBAN_LENGTHS: Record<string, number> = {};
for (const e of IBAN_LEN_LIST.split(" ")) IBAN_LENGTHS[e.slice(0, 2)] = Number(e.slice(2));

// ---------------------------------------------------------------------------
export const US_STATES = new Set(
  "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR GU VI AS MP"
    .split(" "),
);

/** Street types that follow the street name ("10 Downing Street"). */
export const STREET_TYPES = new WordSet([
  "street", "st", "avenue", "ave", "av", "road", "rd", "boulevard", "blvd", "lane", "ln", "drive", "dr", "court",
  "ct", "place", "pl", "terrace", "terr", "ter", "way", "close", "crescent", "cres", "square", "sq", "highway",
  "hwy", "parkway", "pkwy", "circle", "cir", "trail", "trl", "alley", "row", "mews", "gardens", "gdns", "grove",
  "hill", "walk", "green", "plaza", "plz", "path", "loop", "pike", "turnpike", "expressway", "expy", "freeway",
  "fwy", "causeway", "parade", "esplanade", "promenade", "quay", "wharf", "broadway", "park",
]);

/** Street types that come first, after the house number ("12 rue de Rivoli"). */
export const STREET_TYPES_FIRST_AFTER_NUMBER = new WordSet([
  "rue", "avenue", "av", "boulevard", "bd", "place", "chemin", "allée", "allee", "impasse", "quai", "route",
  "cours", "passage", "voie", "calle", "via", "rua", "avenida",
]);

/** Street types that come first, before the name and the house number ("Via Roma 10", "Calle Mayor 5"). */
export const STREET_TYPES_LEADING = new WordSet([
  "calle", "avenida", "avda", "paseo", "plaza", "carrer", "via", "viale", "piazza", "corso", "largo", "vicolo",
  "rua", "travessa", "praça", "praca", "estrada", "rue", "avenue", "boulevard", "ulica", "ul",
]);

/** Compound street-name endings ("Hauptstraße 5", "Kerkstraat 12", "Storgatan 3"). */
export const STREET_SUFFIXES = [
  "straße", "strasse", "str", "weg", "gasse", "platz", "allee", "damm", "ufer", "chaussee", "steig", "pfad",
  "graben", "straat", "laan", "gracht", "plein", "singel", "kade", "dijk", "steeg", "vej", "gade", "gatan",
  "vägen", "väg", "veien", "gata", "stræde",
];

/** Lower-case words that may appear inside a street name ("Rue de la Paix", "Avenue of the Americas"). */
export const NAME_CONNECTORS = new WordSet([
  "de", "del", "della", "delle", "dei", "di", "do", "da", "dos", "das", "van", "von", "der", "den", "la", "le",
  "les", "du", "des", "am", "an", "im", "auf", "of", "the", "y", "e", "l", "d", "st", "saint", "sainte", "upon",
  "on", "sur", "en",
]);

export const UNIT_WORDS = new WordSet([
  "apt", "apartment", "suite", "ste", "unit", "flat", "fl", "floor", "rm", "room", "bldg", "building", "dept",
]);

export const DIRECTIONS = new WordSet(["n", "s", "e", "w", "ne", "nw", "se", "sw", "north", "south", "east", "west"]);

// ---------------------------------------------------------------------------
export const MONTHS = new WordSet<number>([
  ["january", 1], ["february", 2], ["march", 3], ["april", 4], ["may", 5], ["june", 6], ["july", 7],
  ["august", 8], ["september", 9], ["october", 10], ["november", 11], ["december", 12],
  ["jan", 1], ["feb", 2], ["mar", 3], ["apr", 4], ["jun", 6], ["jul", 7], ["aug", 8], ["sep", 9],
  ["sept", 9], ["oct", 10], ["nov", 11], ["dec", 12],
  ["januar", 1], ["februar", 2], ["märz", 3], ["maerz", 3], ["mai", 5], ["juni", 6], ["juli", 7],
  ["oktober", 10], ["dezember", 12],
  ["janvier", 1], ["février", 2], ["fevrier", 2], ["mars", 3], ["avril", 4], ["juin", 6], ["juillet", 7],
  ["août", 8], ["aout", 8], ["septembre", 9], ["octobre", 10], ["novembre", 11], ["décembre", 12],
  ["decembre", 12],
  ["enero", 1], ["febrero", 2], ["marzo", 3], ["abril", 4], ["mayo", 5], ["junio", 6], ["julio", 7],
  ["agosto", 8], ["septiembre", 9], ["setiembre", 9], ["octubre", 10], ["noviembre", 11], ["diciembre", 12],
]);
