// The OAuth provider registry is data in code (shared/oauth/providers.ts): TypeScript checks its
// shape, and this test holds every row to ProviderSchema's finer rules (https URLs, parameter
// names, no unknown fields), so a malformed row fails here instead of at every start.
import { describe, expect, it } from "vitest";
import { OAUTH_PLATFORMS, PROVIDERS, ProviderSchema } from "../../shared/oauth/providers.ts";

describe("OAuth provider registry", () => {
  it.each(OAUTH_PLATFORMS)("%s: its row is what ProviderSchema accepts, unchanged", (platform) => {
    const row = PROVIDERS[platform];
    expect(ProviderSchema.parse(row)).toEqual(row);
    expect(Object.isFrozen(row)).toBe(true);
  });

  it("the schema refuses what a bad row would hold", () => {
    const row = PROVIDERS.buffer;
    for (const bad of [
      { ...row, tokenUrl: "http://api.bufferapp.com/1/oauth2/token.json" },
      { ...row, clientIdParam: "Client-Id" },
      { ...row, displayName: "" },
      { ...row, pkce: "sometimes" },
      { ...row, extra: true },
    ]) {
      expect(ProviderSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });
});
