// Request field schemas every function shares.
import { z } from "zod";

// Every code point except NUL, with surrogates only in pairs: what PostgreSQL text stores
// exactly (it refuses NUL; a lone surrogate would come back as U+FFFD, not as acknowledged).
const STORABLE = /^(?:[^\u0000\uD800-\uDFFF]|[\uD800-\uDBFF][\uDC00-\uDFFF])*$/;

/** A string we can store as given: refuses NUL and lone surrogates (400 code invalid_format). */
export const text = () => z.string().regex(STORABLE, "must not contain NUL or unpaired surrogates");

/** True when `s` can be stored exactly (see text()). */
export const isStorable = (s: string) => STORABLE.test(s);

/** A UUID (any version, either case). */
export const uuid = () => z.string().uuid();

/**
 * Every timestamp a response carries: ISO 8601 in UTC with milliseconds and Z
 * ("2026-01-31T09:30:00.000Z"), from a Date or PostgreSQL's text form (microseconds, offset).
 */
export function toIso(v: Date | string): string;
export function toIso(v: Date | string | null): string | null;
export function toIso(v: Date | string | null): string | null {
  if (v === null) return null;
  return (v instanceof Date ? v : new Date(v)).toISOString();
}

/**
 * Money: a decimal string with two decimals in every response ("12.50"); requests may send the
 * same string or a JSON number with at most two decimals. Kept as integer cents in between.
 */
export const MONEY = /^\d{1,12}(\.\d{1,2})?$/;

export function moneyToCents(v: string | number): bigint {
  const s = typeof v === "number" ? String(v) : v;
  const m = MONEY.exec(s);
  if (!m) throw new RangeError("not a money amount");
  const [whole, frac = ""] = s.split(".");
  return BigInt(whole) * 100n + BigInt(frac.padEnd(2, "0"));
}

export function centsToMoney(cents: bigint): string {
  const sign = cents < 0n ? "-" : "";
  const a = cents < 0n ? -cents : cents;
  return `${sign}${a / 100n}.${String(a % 100n).padStart(2, "0")}`;
}

// PostgreSQL's text form of timestamptz (what to_json(ts) #>> '{}' gives, microseconds and offset).
const PG_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2})?$/;

/**
 * A response body with every PostgreSQL timestamp text in it rewritten by toIso (deep): for
 * routes that keep the text form for their keyset cursors and hand rows through as JSON.
 */
export function isoTimestamps<T>(v: T, depth = 0): T {
  if (typeof v === "string") return (PG_TIMESTAMP.test(v) ? toIso(v) : v) as T;
  if (depth > 8 || v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map((x) => isoTimestamps(x, depth + 1)) as T;
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, isoTimestamps(x, depth + 1)])) as T;
}
