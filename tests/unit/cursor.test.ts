// shared/http/cursor.ts: opaque keyset cursors, validated strictly before they reach SQL.
import { describe, expect, it } from "vitest";
import { decodeCursor, encodeCursor, isTimestamp, page } from "../../shared/http/cursor.ts";
import { base64UrlToText, textToBase64Url } from "../../shared/encoding/index.ts";

const ID = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";
const craft = (v: unknown) => textToBase64Url(JSON.stringify(v));

describe("cursors", () => {
  it("round-trip PostgreSQL timestamps with microseconds and offsets, and null when allowed", () => {
    for (const ts of ["2026-01-31T09:30:00.123456+00:00", "2024-02-29T23:59:59Z", "0001-01-01T00:00:00Z", "2026-06-01 10:00:00+05:30"]) {
      expect(decodeCursor(encodeCursor(ts, ID))).toEqual({ ts, id: ID });
    }
    expect(decodeCursor(encodeCursor(null, ID), { nullTs: true })).toEqual({ ts: null, id: ID });
    expect(decodeCursor(encodeCursor(null, ID))).toBeNull();
  });

  it("refuse what PostgreSQL would refuse (22008/22009), so no crafted cursor reaches SQL", () => {
    for (const ts of [
      "9999-99-99T99:99:99Z", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z", "2026-01-01T25:00:00Z",
      "2026-01-01T00:60:00Z", "2026-01-01T00:00:60Z", "2026-01-01T00:00:00+99:99", "2026-01-01T00:00:00+15:00", "0000-01-01T00:00:00Z",
      "2026-01-01T00:00:00.1234567Z", "2026-01-01", "infinity", "epoch", "", 5,
    ]) {
      expect([ts, decodeCursor(craft([ts, ID]))]).toEqual([ts, null]);
    }
  });

  it("refuse anything that is not [timestamp, uuid] in base64url", () => {
    for (const raw of ["", "!!!", "a".repeat(201), craft([ID]), craft({ ts: "2026-01-01T00:00:00Z", id: ID }), craft(["2026-01-01T00:00:00Z", "42"]),
      craft(["2026-01-01T00:00:00Z", ID, "extra"]), textToBase64Url("not json"), "_-_-"]) {
      expect([raw.slice(0, 30), decodeCursor(raw)]).toEqual([raw.slice(0, 30), null]);
    }
  });

  it("isTimestamp knows leap years", () => {
    expect(isTimestamp("2000-02-29T00:00:00Z")).toBe(true);
    expect(isTimestamp("1900-02-29T00:00:00Z")).toBe(false);
  });

  it("page() takes limit rows and names the last one", () => {
    const rows = [1, 2, 3].map((n) => ({ ts: `2026-01-0${n}T00:00:00Z`, id: ID }));
    const p = page(rows, 2, (r) => r);
    expect(p.items).toHaveLength(2);
    expect(JSON.parse(base64UrlToText(p.next_cursor!))).toEqual(["2026-01-02T00:00:00Z", ID]);
    expect(page(rows, 3, (r) => r).next_cursor).toBeNull();
  });
});
