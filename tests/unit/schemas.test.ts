// shared/schemas: the response formats every function shares (timestamps, money, storable text).
import { describe, expect, it } from "vitest";
import { centsToMoney, isoTimestamps, isStorable, moneyToCents, toIso } from "../../shared/schemas/index.ts";

describe("response formats", () => {
  it("timestamps: ISO 8601 UTC with milliseconds and Z, from Dates and PostgreSQL text (deep in bodies)", () => {
    expect(toIso("2026-01-31T09:30:00.123456+00:00")).toBe("2026-01-31T09:30:00.123Z");
    expect(toIso("2026-01-31T10:30:00+01:00")).toBe("2026-01-31T09:30:00.000Z");
    expect(toIso(null)).toBeNull();
    const body = { items: [{ created_at: "2026-12-02T03:37:13.68+00:00", note: "2026 is not a timestamp", n: 5 }], nested: { at: "2026-12-02T03:37:13.5-05:00" } };
    expect(isoTimestamps(body)).toEqual({
      items: [{ created_at: "2026-12-02T03:37:13.680Z", note: "2026 is not a timestamp", n: 5 }],
      nested: { at: "2026-12-02T08:37:13.500Z" },
    });
  });

  it("money: exact cents, two decimals out", () => {
    expect(moneyToCents("12.5")).toBe(1250n);
    expect(moneyToCents(0.1)).toBe(10n);
    expect(centsToMoney(moneyToCents("999999999999.99"))).toBe("999999999999.99");
    expect(() => moneyToCents("1.234")).toThrow();
    expect(() => moneyToCents(-1)).toThrow();
  });

  it("storable text: no NUL, surrogates only in pairs", () => {
    expect(isStorable("emoji 😀")).toBe(true);
    for (const bad of ["a\u0000b", "\ud800", "x\udc00", "😀\ud83d"]) expect(isStorable(bad)).toBe(false);
  });
});
