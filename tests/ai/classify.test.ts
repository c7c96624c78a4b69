// The pure parts: classify(), backoff, Retry-After, prices, the streaming unmasker, masking.
import { describe, expect, it } from "vitest";
import { backoffMs, classify, parseRetryAfter, toFailure } from "../../shared/ai/classify.ts";
import { mediaCost, tokenCost, TOKEN_PRICES } from "../../shared/ai/prices.ts";
import { PROVIDERS } from "../../shared/ai/registry.ts";
import { maskParts, StreamUnmasker, unexpectedPii } from "../../shared/ai/masking.ts";

describe("classify", () => {
  it.each([
    [{ kind: "network" }, "retry"], [{ kind: "timeout" }, "retry"],
    [{ kind: "http", status: 408 }, "retry"], [{ kind: "http", status: 409 }, "retry"], [{ kind: "http", status: 429 }, "retry"],
    [{ kind: "http", status: 500 }, "retry"], [{ kind: "http", status: 503 }, "retry"],
    [{ kind: "http", status: 401 }, "fallback"], [{ kind: "http", status: 403 }, "fallback"],
    [{ kind: "http", status: 400 }, "stop"], [{ kind: "http", status: 404 }, "stop"], [{ kind: "http", status: 422 }, "stop"],
    [{ kind: "http", status: 402 }, "fallback"], [{ kind: "bad_response" }, "fallback"], [{ kind: "cancelled" }, "stop"],
  ] as const)("%j → %s", (f, decision) => {
    expect(classify(f as never).decision).toBe(decision);
  });

  it("reads SDK errors: status, statusCode, Retry-After from Headers or records; anything else is a network error", () => {
    expect(toFailure({ status: 429, headers: new Headers({ "retry-after": "3" }) })).toEqual({ kind: "http", status: 429, retryAfterMs: 3000 });
    expect(toFailure({ statusCode: 503, headers: { "Retry-After": "1" } })).toEqual({ kind: "http", status: 503, retryAfterMs: 1000 });
    expect(toFailure(new TypeError("fetch failed"))).toEqual({ kind: "network" });
    expect(toFailure(new Error("x"), { timedOut: true })).toEqual({ kind: "timeout" });
    expect(toFailure(new Error("x"), { cancelled: true, timedOut: true })).toEqual({ kind: "cancelled" });
  });

  it("backoff: full jitter under base·2^(n-1); Retry-After wins, capped", () => {
    const p = { baseMs: 100, retryAfterCapMs: 5000 };
    expect(backoffMs(1, { kind: "network" }, p, () => 0.999)).toBe(99);
    expect(backoffMs(2, { kind: "network" }, p, () => 0.5)).toBe(100);
    expect(backoffMs(2, { kind: "network" }, p, () => 0)).toBe(0);
    expect(backoffMs(1, { kind: "http", status: 429, retryAfterMs: 2000 }, p)).toBe(2000);
    expect(backoffMs(1, { kind: "http", status: 429, retryAfterMs: 60_000 }, p)).toBe(5000);
  });

  it("Retry-After: seconds or an HTTP date; junk ignored", () => {
    expect(parseRetryAfter("2")).toBe(2000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 5_000)).toBe(5000);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});

describe("registry and prices", () => {
  it("every provider's models are priced; defaults as the issue's table", () => {
    expect(PROVIDERS.map((p) => [p.id, p.defaultModel, p.maxTokens, p.temperature, p.requestsPerMinute, p.vision])).toEqual([
      ["openai", "gpt-5-mini", 4000, 0.7, 60, true], ["anthropic", "claude-sonnet-4-5", 4000, 0.7, 50, true],
      ["mistral", "mistral-large-latest", 4000, 0.7, 100, false], ["gemini", "gemini-2.5-flash", 4000, 0.7, 60, true],
    ]);
    for (const p of PROVIDERS) for (const m of p.models) expect(TOKEN_PRICES[p.id][m], `${p.id}/${m}`).toBeDefined();
  });

  it("cost arithmetic", () => {
    expect(tokenCost("openai", "gpt-5-mini", 1_000_000, 1_000_000)).toBe(2.25);
    expect(tokenCost("anthropic", "claude-sonnet-4-5", 100, 20)).toBe(0.0006);
    expect(tokenCost("gemini", "gemini-2.5-flash", 100, 20)).toBe(0.00008);
    expect(mediaCost("veo-3-fast", 8)).toBe(3.2);
    expect(mediaCost("veo-3", 4)).toBe(3);
    expect(mediaCost("nano-banana")).toBe(0.039);
  });
});

describe("masking", () => {
  it("parts share one numbering; the same value is the same placeholder", () => {
    const { masked, placeholders } = maskParts(["Shop: shop@example.com", "Write to shop@example.com or ada@example.org"]);
    expect(masked[0]).toBe("Shop: [EMAIL_1]");
    expect(masked[1]).toBe("Write to [EMAIL_1] or [EMAIL_2]");
    expect(placeholders).toEqual({ "[EMAIL_1]": "shop@example.com", "[EMAIL_2]": "ada@example.org" });
  });

  it("PII the caller supplied is expected; new PII is not", () => {
    expect(unexpectedPii("Mail ada@example.org", ["ada@example.org"])).toEqual({ containsPii: true, unexpected: 0 });
    expect(unexpectedPii("Mail bob@example.net", ["ada@example.org"])).toEqual({ containsPii: true, unexpected: 1 });
  });

  it("the further supplied values are read only when the first ones do not explain the answer, with the same verdict", () => {
    let asked = 0;
    const more = () => (asked++, ["bob@example.net"]);
    expect(unexpectedPii("No personal data here", ["ada@example.org"], more)).toEqual({ containsPii: false, unexpected: 0 });
    expect(unexpectedPii("Mail ada@example.org", ["ada@example.org"], more)).toEqual({ containsPii: true, unexpected: 0 });
    expect(asked).toBe(0);
    expect(unexpectedPii("Mail bob@example.net or ada@example.org", ["ada@example.org"], more)).toEqual({ containsPii: true, unexpected: 0 });
    expect(unexpectedPii("Mail eve@example.com", ["ada@example.org"], more)).toEqual({ containsPii: true, unexpected: 1 });
    expect(asked).toBe(2);
  });

  it("stream unmasking holds a placeholder split across deltas until it is complete", () => {
    const ph = { "[EMAIL_1]": "ada@example.org", "[PHONE_1]": "+44 20 7946 0958" };
    const u = new StreamUnmasker(ph);
    const out = [u.push("Write to [EM"), u.push("AIL_1] or call [PHO"), u.push("NE_"), u.push("1]. Price [not"), u.push(" a placeholder]"), u.flush()];
    expect(out.join("")).toBe("Write to ada@example.org or call +44 20 7946 0958. Price [not a placeholder]");
    expect(out.some((o) => o.includes("[EM") || o.includes("[PHO"))).toBe(false);
    expect(out[0]).toBe("Write to ");
  });
});
