/** Public API: detect, mask, unmask, summarise. */
import { scan } from "./detect.ts";
import { type MaskResult, PII_TYPES, type PiiMatch, type PiiOptions, type PiiSummary, type PiiType } from "./types.ts";

const TYPE_INDEX: Record<string, number> = {};
PII_TYPES.forEach((t, i) => (TYPE_INDEX[t] = i));

// scratch space reused by maskPii (synchronous, so never shared between two calls)
const SMALL = 16;
const counters = new Int32Array(PII_TYPES.length);
const seenType = new Int32Array(SMALL);
const seenValue: string[] = new Array<string>(SMALL).fill("");
const seenPh: string[] = new Array<string>(SMALL).fill("");

/** Any placeholder this module can produce: `[EMAIL_1]`, `[CREDIT_CARD_12]` ... */
export const PLACEHOLDER_RE = new RegExp(`\\[(?:${PII_TYPES.join("|")})_[0-9]{1,9}\\]`, "g");

function filter(matches: PiiMatch[], options: PiiOptions | undefined): PiiMatch[] {
  if (options === undefined || matches.length === 0) return matches;
  const types = options.types;
  const min = options.minScore ?? 0;
  if (types === undefined && min <= 0) return matches;
  return matches.filter((m) => m.score >= min && (types === undefined || types.includes(m.type)));
}

/**
 * Finds personal data in `text`. Matches are sorted by start and never overlap;
 * offsets are UTF-16 code units (`text.slice(start, end)`).
 */
export function detectPii(text: string, options?: PiiOptions): PiiMatch[] {
  if (typeof text !== "string") return [];
  const res = filter(scan(text), options);
  return res.length === 0 ? [] : res;
}

/**
 * Replaces every match with a numbered placeholder `[TYPE_n]` (numbered per type, the same
 * value gets the same placeholder). Numbers already written literally in `text` as a
 * placeholder are skipped, so `unmaskPii(masked, placeholders)` always returns `text`.
 */
export function maskPii(text: string, options?: PiiOptions): MaskResult {
  if (typeof text !== "string") return { masked: "", placeholders: {} };
  const matches = filter(scan(text), options);
  const placeholders: Record<string, string> = {};
  if (matches.length === 0) return { masked: text, placeholders };
  // placeholders that the input already contains literally must not be reused
  let reserved: Set<string> | null = null;
  if (text.indexOf("[") >= 0) {
    PLACEHOLDER_RE.lastIndex = 0;
    const lit = text.match(PLACEHOLDER_RE);
    if (lit !== null) reserved = new Set(lit);
  }
  counters.fill(0);
  // value -> placeholder: linear search over the few values of one message, a map beyond that
  let nSeen = 0;
  let seen: Map<string, string> | null = null;
  let out = "";
  let last = 0;
  for (let k = 0; k < matches.length; k++) {
    const m = matches[k];
    const value = text.slice(m.start, m.end);
    const ti = TYPE_INDEX[m.type];
    let ph: string | undefined;
    if (seen !== null) ph = seen.get(m.type + "\u0000" + value);
    else {
      for (let q = 0; q < nSeen; q++) {
        if (seenType[q] === ti && seenValue[q] === value) {
          ph = seenPh[q];
          break;
        }
      }
    }
    if (ph === undefined) {
      do {
        ph = "[" + m.type + "_" + ++counters[ti] + "]";
      } while (reserved !== null && reserved.has(ph));
      placeholders[ph] = value;
      if (seen === null && nSeen < SMALL) {
        seenType[nSeen] = ti;
        seenValue[nSeen] = value;
        seenPh[nSeen] = ph;
        nSeen++;
      } else {
        if (seen === null) {
          seen = new Map();
          for (let q = 0; q < nSeen; q++) seen.set(PII_TYPES[seenType[q]] + "\u0000" + seenValue[q], seenPh[q]);
        }
        seen.set(m.type + "\u0000" + value, ph);
      }
    }
    out += text.slice(last, m.start) + ph;
    last = m.end;
  }
  out += text.slice(last);
  for (let q = 0; q < nSeen; q++) seenValue[q] = "";
  return { masked: out, placeholders };
}

/**
 * Puts the originals back. Only exact placeholders present in `placeholders` are replaced;
 * unknown or invented ones (and all other text) stay as they are. One linear pass.
 */
export function unmaskPii(text: string, placeholders: Readonly<Record<string, string>>): string {
  if (typeof text !== "string") return "";
  if (text.indexOf("[") < 0 || placeholders === null || typeof placeholders !== "object") return text;
  PLACEHOLDER_RE.lastIndex = 0;
  current = placeholders;
  const out = text.replace(PLACEHOLDER_RE, lookup);
  current = EMPTY_MAP;
  return out;
}

const EMPTY_MAP: Readonly<Record<string, string>> = {};
let current: Readonly<Record<string, string>> = EMPTY_MAP;
function lookup(m: string): string {
  return Object.prototype.hasOwnProperty.call(current, m) ? current[m] : m;
}

/** What may be stored about a text's PII: the types and how many of each, never the values. */
export function summarizePii(matches: readonly PiiMatch[]): PiiSummary {
  const n = new Int32Array(PII_TYPES.length);
  for (const m of matches) if (TYPE_INDEX[m.type] !== undefined) n[TYPE_INDEX[m.type]]++;
  const types: PiiType[] = [];
  const counts: Partial<Record<PiiType, number>> = {};
  PII_TYPES.forEach((t, i) => {
    if (n[i] > 0) {
      types.push(t);
      counts[t] = n[i];
    }
  });
  return { types, counts };
}
