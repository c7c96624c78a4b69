import { describe, expect, it } from "vitest";
import { detectPii, maskPii, PII_TYPES, type PiiType, summarizePii, unmaskPii } from "../../shared/pii/index.ts";

/** [type, value] pairs found in `text`. */
function found(text: string): Array<[PiiType, string]> {
  return detectPii(text).map((m) => [m.type, text.slice(m.start, m.end)]);
}
function expectOnly(text: string, type: PiiType, value: string): void {
  expect(found(text)).toEqual([[type, value]]);
}
function expectNone(text: string): void {
  expect(found(text)).toEqual([]);
  expect(maskPii(text).masked).toBe(text);
}

describe("email", () => {
  it.each([
    ["write to john.doe@example.com.", "john.doe@example.com"],
    ["JOHN.DOE@EXAMPLE.COM!", "JOHN.DOE@EXAMPLE.COM"],
    ["(jane+orders@mail.shop.co.uk)", "jane+orders@mail.shop.co.uk"],
    ["mailto:a_b-c@sub.domain-x.io, thanks", "a_b-c@sub.domain-x.io"],
    ["<x@y.co>", "x@y.co"],
  ])("%s", (text, value) => expectOnly(text, "EMAIL", value));
  it("rejects non-addresses", () => {
    expectNone("user@localhost or me@home or @handle or a@b.c");
  });
});

describe("phone", () => {
  it.each([
    "(415) 555-2671", "415-555-2671", "415.555.2671", "415 555 2671", "+1 415 555 2671", "+1-415-555-2671",
    "1-800-555-0199", "+14155552671", "+1 (555) 123-4567", "555-123-4567", "1 (415) 555-2671", "+44 20 7946 0958", "020 7946 0958", "07700 900123",
    "+44 (0)20 7946 0958", "+49 30 12345678", "030 12345678", "030/12345678", "0151-23456789", "+33 1 23 45 67 89",
    "06.12.34.56.78", "0612345678", "+91 98765 43210", "98765 43210", "+55 11 91234-5678", "(11) 91234-5678",
    "+234 803 123 4567", "0803 123 4567", "08031234567", "+81 3-1234-5678", "+86 138 0013 8000", "0044 20 7946 0958",
  ])("%s", (value) => expectOnly(`call me on ${value} please`, "PHONE", value));
  it("bare 10-digit NANP number is a phone (low score)", () => {
    const [m] = detectPii("4155552671");
    expect(m.type).toBe("PHONE");
    expect(m.score).toBeLessThan(0.9);
  });
  it("context words make numbers non-phones", () => {
    expectNone("Order 4155552671 and order #4155552671, invoice 7185550199, tracking 1234567890, SKU: 4155552671");
    expectNone("your order number is 4155552671.");
    expectNone("#4155552671");
  });
  it("the nearest keyword wins", () => {
    expect(found("Order 12345678, please call 4155552671")).toEqual([["PHONE", "4155552671"]]);
    expect(found("call me about order 4155552671")).toEqual([]);
  });
  it("dates, times, prices, versions are not phones", () => {
    expectNone("12/25/2023 10:30, 2024-01-15 14:45:00, $1,234.56, 1.234,56 €, v2.10.3, 10.0.19045.2965, 1 234 567,89 €");
    expectNone("Sizes 10 12 14 16 18, ISBN 978-3-16-148410-0, 1920x1080");
  });
  it("two phones separated by a space", () => {
    expect(found("212-555-0101 212-555-0102")).toEqual([["PHONE", "212-555-0101"], ["PHONE", "212-555-0102"]]);
  });
});

describe("ssn", () => {
  it("valid SSNs", () => {
    expectOnly("SSN 078-05-1120", "SSN", "078-05-1120");
    expectOnly("ssn: 123456789", "SSN", "123456789");
    expectOnly("social security number 123 45 6789", "SSN", "123 45 6789");
  });
  it("invalid ranges are left alone", () => {
    expectNone("000-12-3456 666-12-3456 900-12-3456 123-00-4567 123-45-0000");
  });
});

describe("credit card", () => {
  it.each([
    "4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111", "5555 5555 5555 4444", "2223003122003222",
    "3782 822463 10005", "378282246310005", "6011 0009 9013 9424", "3530111333300000", "6200000000000005",
    "4000 0000 0000 0000 006",
  ])("%s", (value) => expectOnly(`card ${value} exp 04/27`, "CREDIT_CARD", value));
  it("Luhn failures, unknown issuers and barcodes are left alone", () => {
    expectNone("PO 4111111111111112, ref 9111111111111111, EAN 4006381333931, UPC 036000291452");
    expectNone("4111111111111112");
  });
  it("business context vetoes a Luhn-valid number", () => {
    expectNone("PO 4532015112830366");
  });
});

describe("iban", () => {
  it.each(["DE89 3704 0044 0532 0130 00", "DE89370400440532013000", "GB82 WEST 1234 5698 7654 32", "FR1420041010050500013M02606", "NL91ABNA0417164300", "de89370400440532013000"])(
    "%s",
    (value) => expectOnly(`IBAN: ${value}.`, "IBAN", value),
  );
  it("bad checksum or length", () => {
    expectNone("DE89 3704 0044 0532 0130 01, DE89 3704 0044 0532 0130");
  });
});

describe("ip address", () => {
  it.each(["192.168.1.10", "8.8.8.8", "2001:db8::1", "fe80::1ff:fe23:4567:890a", "2001:0db8:85a3:0000:0000:8a2e:0370:7334", "::ffff:192.0.2.128"])(
    "%s",
    (value) => expectOnly(`from ${value}.`, "IP_ADDRESS", value),
  );
  it("ports and CIDR suffixes are not part of the address", () => {
    expect(found("http://10.0.0.1:8080/x and 10.0.0.0/24")).toEqual([["IP_ADDRESS", "10.0.0.1"], ["IP_ADDRESS", "10.0.0.0"]]);
  });
  it("versions, times and MACs are not IPs", () => {
    expectNone("version 1.2.3.4, firmware 4.2.1.10, v1.2.3.4, 1.2.3.4.5, 300.1.1.1, 10:30:45, 00:1A:2B:3C:4D:5E, std::vector");
  });
});

describe("street address", () => {
  it.each([
    ["I live at 1600 Pennsylvania Ave NW, Washington, DC 20500.", "1600 Pennsylvania Ave NW, Washington, DC 20500"],
    ["at 221B Baker Street, London NW1 6XE", "221B Baker Street, London NW1 6XE"],
    ["10 Downing Street is famous", "10 Downing Street"],
    ["send to 12 rue de Rivoli, 75001 Paris", "12 rue de Rivoli, 75001 Paris"],
    ["Hauptstraße 5, 10115 Berlin", "Hauptstraße 5, 10115 Berlin"],
    ["Kerkstraat 12", "Kerkstraat 12"],
    ["Via Roma 10", "Via Roma 10"],
    ["Calle de Alcalá 42, 28014 Madrid", "Calle de Alcalá 42, 28014 Madrid"],
    ["ring 0 bells at Große Hamburger Straße 17", "Große Hamburger Straße 17"],
    ["PO Box 1234, Springfield, IL 62704", "PO Box 1234, Springfield, IL 62704"],
    ["i live at 42 wallaby way now", "42 wallaby way"],
  ])("%s", (text, value) => expectOnly(text, "STREET_ADDRESS", value));
  it("quantities are not addresses", () => {
    expectNone("I need 3 Large Boxes by Friday, 12 units and 5 pallets");
    expectNone("we carried 12 boxes way over there");
  });
});

describe("keyword-announced identifiers", () => {
  it.each([
    ["passport number 123456789", "PASSPORT", "123456789"],
    ["Passport: C01X00T47", "PASSPORT", "C01X00T47"],
    ["DOB: 01/02/1985", "DATE_OF_BIRTH", "01/02/1985"],
    ["I was born on March 3, 1985", "DATE_OF_BIRTH", "March 3, 1985"],
    ["date of birth June 5, 1991 - cheers", "DATE_OF_BIRTH", "June 5, 1991"],
    ["born 1 Jan 1980", "DATE_OF_BIRTH", "1 Jan 1980"],
    ["date of birth 3rd of May, 1979", "DATE_OF_BIRTH", "3rd of May, 1979"],
    ["D.O.B. 1990-07-04", "DATE_OF_BIRTH", "1990-07-04"],
    ["NI number QQ 12 34 56 C", "NATIONAL_ID", "QQ 12 34 56 C"],
    ["national insurance number: AB123456C", "NATIONAL_ID", "AB123456C"],
    ["CPF 123.456.789-09", "NATIONAL_ID", "123.456.789-09"],
    ["driver's license D1234567", "DRIVERS_LICENSE", "D1234567"],
    ["DL# S123-456-78-901-0", "DRIVERS_LICENSE", "S123-456-78-901-0"],
    ["MRN: 00123456", "MEDICAL_RECORD", "00123456"],
    ["NHS number 943 476 5919", "MEDICAL_RECORD", "943 476 5919"],
    ["patient ID P-884213", "MEDICAL_RECORD", "P-884213"],
  ] as Array<[string, PiiType, string]>)("%s", (text, type, value) => expectOnly(text, type, value));
  it("dates without a birth keyword are left alone", () => {
    expectNone("delivered on 01/02/2024, due 3 March 2025");
  });
});

describe("maskPii / unmaskPii", () => {
  it("numbers placeholders per type and reuses them for equal values", () => {
    const text = "Mail a@b.co or c@d.co, call 415-555-2671, again a@b.co";
    const { masked, placeholders } = maskPii(text);
    expect(masked).toBe("Mail [EMAIL_1] or [EMAIL_2], call [PHONE_1], again [EMAIL_1]");
    expect(placeholders).toEqual({ "[EMAIL_1]": "a@b.co", "[EMAIL_2]": "c@d.co", "[PHONE_1]": "415-555-2671" });
    expect(unmaskPii(masked, placeholders)).toBe(text);
  });
  it("never reuses a placeholder that the input already contains", () => {
    const text = "[EMAIL_1] a@b.co";
    const { masked, placeholders } = maskPii(text);
    expect(masked).toBe("[EMAIL_1] [EMAIL_2]");
    expect(unmaskPii(masked, placeholders)).toBe(text);
  });
  it("leaves unknown and invented placeholders untouched", () => {
    const { placeholders } = maskPii("mail a@b.co");
    expect(unmaskPii("Sure [EMAIL_1], [EMAIL_9], [PHONE_1], [FOO_1], [EMAIL_1", placeholders)).toBe(
      "Sure a@b.co, [EMAIL_9], [PHONE_1], [FOO_1], [EMAIL_1",
    );
  });
  it("ignores prototype keys", () => {
    expect(unmaskPii("[EMAIL_1] constructor", {})).toBe("[EMAIL_1] constructor");
  });
  it("text without PII comes back unchanged", () => {
    const text = "Order #12345678 shipped on 2024-01-15 for $1,234.56 (v2.10.3).";
    expect(maskPii(text)).toEqual({ masked: text, placeholders: {} });
  });
});

describe("options", () => {
  const text = "mail a@b.co, call 4155552671, card 4111 1111 1111 1111";
  it("types restricts the result", () => {
    expect(detectPii(text, { types: ["EMAIL"] }).map((m) => m.type)).toEqual(["EMAIL"]);
    expect(maskPii(text, { types: ["CREDIT_CARD"] }).masked).toBe("mail a@b.co, call 4155552671, card [CREDIT_CARD_1]");
  });
  it("minScore drops weak matches", () => {
    expect(detectPii(text, { minScore: 0.9 }).map((m) => m.type)).toEqual(["EMAIL", "CREDIT_CARD"]);
  });
});

describe("summarizePii", () => {
  it("counts types without values", () => {
    const s = summarizePii(detectPii("a@b.co c@d.co 415-555-2671"));
    expect(s).toEqual({ types: ["EMAIL", "PHONE"], counts: { EMAIL: 2, PHONE: 1 } });
    expect(JSON.stringify(s)).not.toContain("@");
  });
  it("empty", () => {
    expect(summarizePii([])).toEqual({ types: [], counts: {} });
  });
});

describe("match invariants", () => {
  it("sorted, non-overlapping, inside the text", () => {
    const text = "Hi a@b.co 415-555-2671 DE89370400440532013000 192.168.0.1 10 Downing Street SSN 078-05-1120";
    const ms = detectPii(text);
    expect(ms.length).toBe(6);
    for (let k = 0; k < ms.length; k++) {
      expect(ms[k].start).toBeGreaterThanOrEqual(0);
      expect(ms[k].end).toBeLessThanOrEqual(text.length);
      expect(ms[k].start).toBeLessThan(ms[k].end);
      if (k > 0) expect(ms[k].start).toBeGreaterThanOrEqual(ms[k - 1].end);
      expect(PII_TYPES).toContain(ms[k].type);
    }
  });
});
