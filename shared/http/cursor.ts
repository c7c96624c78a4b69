// Keyset pagination, the same for every list: an opaque cursor (base64url of
// [timestamp | null, id]) naming the last row of the previous page. Timestamps stay PostgreSQL
// text end to end (a JS Date would drop the microseconds and repeat or skip rows): read them
// with to_json(ts) #>> '{}', compare as ${ts}::text::timestamptz.
//
// A cursor is validated strictly before it reaches SQL: a real calendar date and time, an
// offset within ±14:00, years 0001-9999, a UUID id. Anything else answers 400 naming `cursor`.
import { z } from "@hono/zod-openapi";
import { base64UrlToText, textToBase64Url } from "../encoding/index.ts";
import { isUuid } from "../uuid/index.ts";

export interface Cursor {
  ts: string | null;
  id: string;
}

const TS = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?(Z|[+-](\d{2})(?::?(\d{2}))?)$/;
const MAX_CURSOR = 200;

/** A timestamp PostgreSQL will accept as timestamptz, checked field by field (no 2026-02-30). */
export function isTimestamp(s: string): boolean {
  const m = TS.exec(s);
  if (!m) return false;
  const [y, mo, d, h, mi, sec] = m.slice(1, 7).map(Number);
  if (y < 1 || mo < 1 || mo > 12 || h > 23 || mi > 59 || sec > 59) return false;
  const days = [31, (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1];
  if (d < 1 || d > days) return false;
  if (m[8] !== "Z") {
    const oh = Number(m[9]);
    const om = m[10] === undefined ? 0 : Number(m[10]);
    if (om > 59 || oh * 60 + om > 14 * 60) return false;
  }
  return true;
}

export function encodeCursor(ts: string | null, id: string): string {
  return textToBase64Url(JSON.stringify([ts, id]));
}

/** The cursor, or null when `raw` is not one we could have issued. */
export function decodeCursor(raw: string, o: { nullTs?: boolean } = {}): Cursor | null {
  if (raw.length === 0 || raw.length > MAX_CURSOR || !/^[A-Za-z0-9_-]+$/.test(raw)) return null;
  let v: unknown;
  try {
    v = JSON.parse(base64UrlToText(raw));
  } catch {
    return null;
  }
  if (!Array.isArray(v) || v.length !== 2) return null;
  const [ts, id] = v;
  const tsOk = ts === null ? !!o.nullTs : typeof ts === "string" && isTimestamp(ts);
  return tsOk && isUuid(id) ? { ts, id: id.toLowerCase() } : null;
}

/**
 * The `cursor` query parameter, decoded by the validator. `nullTs`: whether the keyset column
 * may be null (e.g. conversations without messages).
 */
export function cursorParam(o: { nullTs?: boolean } = {}) {
  return z.string().max(MAX_CURSOR)
    .refine((raw) => decodeCursor(raw, o) !== null, { message: "cursor malformed" })
    .transform((raw) => decodeCursor(raw, o) as Cursor)
    .optional()
    .openapi({ param: { name: "cursor", in: "query" }, type: "string", description: "next_cursor of the previous page" });
}

/** Take `limit` rows of a `limit + 1` fetch and the cursor of the last one if more exist. */
export function page<R>(rows: R[], limit: number, key: (r: R) => Cursor): { items: R[]; next_cursor: string | null } {
  if (rows.length <= limit) return { items: rows, next_cursor: null };
  const items = rows.slice(0, limit);
  const last = key(items[items.length - 1]);
  return { items, next_cursor: encodeCursor(last.ts, last.id) };
}
