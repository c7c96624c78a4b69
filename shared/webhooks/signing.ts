// Standard Webhooks signatures (https://www.standardwebhooks.com), made by the `standardwebhooks`
// package: webhook-id, webhook-timestamp (seconds) and webhook-signature `v1,<base64 HMAC-SHA256
// of "<id>.<timestamp>.<body>">`. During a secret rotation the header carries one signature per
// live secret, space separated, as the specification allows. The package is CommonJS, loaded by
// the first signature rather than at start (in Deno the first CommonJS module costs a cold start
// ~40 ms: docs/performance.md).
import { bytesToBase64 } from "../crypto/index.ts";

/** A new signing secret: whsec_ + base64 of 32 random bytes. */
export function newSigningSecret(): string {
  return `whsec_${bytesToBase64(crypto.getRandomValues(new Uint8Array(32)))}`;
}

export interface SignedHeaders {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
}

/** Headers for `body`, signed with every secret given (newest first). */
export async function signHeaders(secrets: string[], msgId: string, at: Date, body: string): Promise<SignedHeaders> {
  if (!secrets.length) throw new Error("no signing secret");
  const { Webhook } = await import("standardwebhooks");
  const signatures = secrets.map((s) => new Webhook(s).sign(msgId, at, body));
  return {
    "webhook-id": msgId,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": signatures.join(" "),
  };
}
