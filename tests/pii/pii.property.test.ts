import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { detectPii, maskPii, PII_TYPES, unmaskPii } from "../../shared/pii/index.ts";

/** Fragments that make the generated texts hit every detector and its edge cases. */
const FRAGMENTS = [
  "a@b.co", "John.Doe+x@Mail.Example.co.uk", "@", ".", ":", "::", "-", "/", "(", ")", "+", "#", " ", "\n", ",",
  "415-555-2671", "(415) 555-2671", "+44 20 7946 0958", "0151 23456789", "4111 1111 1111 1111", "378282246310005",
  "078-05-1120", "SSN", "DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "192.168.1.1", "2001:db8::1",
  "fe80::1", "10 Downing Street", "Hauptstraße 5", "12 rue de Rivoli", "passport", "DOB", "born on", "March 3, 1985",
  "01/02/1985", "NI number", "QQ 12 34 56 C", "MRN", "driver's license", "order", "#", "PO", "v2.10.3", "$1,234.56",
  "[EMAIL_1]", "[PHONE_2]", "[CREDIT_CARD_1]", "[EMAIL_", "_1]", "[", "]", "1", "12", "123", "2024-01-15", "10:30",
  "é", "ß", "😀", "\u00a0", "\u2013", "call", "Via", "Roma", "St", "Apt 4B", "London SW1A 2AA", "IL 62704",
];

const chatText = fc.array(
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...FRAGMENTS) },
    { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
    { weight: 1, arbitrary: fc.stringMatching(/^[0-9 ().+-]{1,14}$/) },
  ),
  { maxLength: 24 },
).map((parts) => parts.join(""));

const anyText = fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: "binary", maxLength: 120 }), chatText);

describe("properties", () => {
  it("unmask(mask(t)) === t for any text", () => {
    fc.assert(
      fc.property(anyText, (t) => {
        const { masked, placeholders } = maskPii(t);
        expect(unmaskPii(masked, placeholders)).toBe(t);
      }),
      { numRuns: 3000 },
    );
  });

  it("round trip also holds with a type filter", () => {
    fc.assert(
      fc.property(chatText, fc.subarray([...PII_TYPES]), (t, types) => {
        const { masked, placeholders } = maskPii(t, { types });
        expect(unmaskPii(masked, placeholders)).toBe(t);
      }),
      { numRuns: 1000 },
    );
  });

  it("maskPii never throws and placeholders map back to substrings of the input", () => {
    fc.assert(
      fc.property(anyText, (t) => {
        const { placeholders } = maskPii(t);
        for (const [ph, v] of Object.entries(placeholders)) {
          expect(ph).toMatch(/^\[[A-Z_]+_\d+\]$/);
          expect(t.includes(v)).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("matches are inside the text, sorted and non-overlapping", () => {
    fc.assert(
      fc.property(anyText, (t) => {
        const ms = detectPii(t);
        let prevEnd = 0;
        for (const m of ms) {
          expect(Number.isInteger(m.start) && Number.isInteger(m.end)).toBe(true);
          expect(m.start).toBeGreaterThanOrEqual(prevEnd);
          expect(m.end).toBeGreaterThan(m.start);
          expect(m.end).toBeLessThanOrEqual(t.length);
          expect(m.score).toBeGreaterThan(0);
          expect(m.score).toBeLessThanOrEqual(1);
          expect(PII_TYPES).toContain(m.type);
          prevEnd = m.end;
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("text the model invents around placeholders is kept", () => {
    fc.assert(
      fc.property(chatText, fc.string({ maxLength: 40 }), (t, reply) => {
        const { masked, placeholders } = maskPii(t);
        const keys = Object.keys(placeholders);
        const invented = reply + keys.join(" ") + " [EMAIL_999] " + reply;
        const back = unmaskPii(invented, placeholders);
        expect(back.startsWith(unmaskPii(reply, placeholders))).toBe(true);
        expect(back).toContain("[EMAIL_999]");
        expect(unmaskPii(masked, placeholders)).toBe(t);
      }),
      { numRuns: 500 },
    );
  });

  it("detection is deterministic and independent of earlier calls", () => {
    fc.assert(
      fc.property(chatText, chatText, (a, b) => {
        const first = detectPii(a);
        detectPii(b);
        expect(detectPii(a)).toEqual(first);
      }),
      { numRuns: 500 },
    );
  });
});
