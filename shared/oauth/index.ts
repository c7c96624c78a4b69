// OAuth connections of social tools: the provider registry, the protocol (oauth4webapi), tokens
// in the user vault with refresh under a lock, return-URL checks, and the posting connectors.
import type { Deps } from "../runtime/deps.ts";
import type { TokenDeps } from "./tokens.ts";
import { bytesToBase64Url } from "../encoding/index.ts";

export * from "./providers.ts";
export * from "./client.ts";
export * from "./tokens.ts";
export * from "./return-url.ts";

/** What the token helpers need, from a function's Deps. */
export function tokenDeps(deps: Deps): TokenDeps {
  return {
    db: deps.db,
    keyring: deps.keyring,
    logger: deps.logger,
    protocol: { fetch: deps.fetch, timeoutMs: deps.config.OAUTH_HTTP_TIMEOUT_MS, now: deps.now },
    refreshMarginSeconds: deps.config.OAUTH_REFRESH_MARGIN_SECONDS,
  };
}

/** SHA-256 of a string, hex: how a state is found without being stored. */
export async function sha256Hex(value: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(value)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** 32 random bytes, base64url (43 characters). */
export function randomState(): string {
  return bytesToBase64Url(crypto.getRandomValues(new Uint8Array(32)));
}
