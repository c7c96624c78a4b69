import { describe, expect, it } from "vitest";
import { detectPii, maskPii, unmaskPii } from "../../shared/pii/index.ts";
import { adversarialInputs } from "./corpus.ts";

// Correctness only; the timings of the 1 MB versions are measured by scripts/bench-pii.ts.
describe("adversarial inputs (64 KB versions)", () => {
  it.each(adversarialInputs(1 << 16))("%s", (_name, text) => {
    const { masked, placeholders } = maskPii(text);
    expect(unmaskPii(masked, placeholders)).toBe(text);
    for (const m of detectPii(text)) expect(m.end).toBeLessThanOrEqual(text.length);
  });
});
