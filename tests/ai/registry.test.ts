// The AI provider registry is data in code (shared/ai/registry.ts): TypeScript checks its shape,
// and this test holds every row to ProviderSpecSchema's finer rules, so a bad row fails here
// instead of at every start.
import { describe, expect, it } from "vitest";
import { PROVIDER_IDS, PROVIDERS, ProviderSpecSchema } from "../../shared/ai/registry.ts";

describe("AI provider registry", () => {
  it("holds one row per provider id", () => {
    expect(PROVIDERS.map((p) => p.id)).toEqual([...PROVIDER_IDS]);
  });

  it.each(PROVIDER_IDS)("%s: its row is what ProviderSpecSchema accepts, unchanged", (id) => {
    const row = PROVIDERS.find((p) => p.id === id)!;
    expect(ProviderSpecSchema.parse(row)).toEqual(row);
  });

  it("the schema refuses what a bad row would hold", () => {
    const row = PROVIDERS[0];
    for (const bad of [
      { ...row, defaultModel: "not-in-models" },
      { ...row, models: [] },
      { ...row, temperature: 3 },
      { ...row, maxTokens: 0 },
      { ...row, baseUrl: "not a url" },
      { ...row, auth: "cookie" },
    ]) {
      expect(ProviderSpecSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });
});
