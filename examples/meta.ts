// Meta's side of the webhook, shared by the webhook and messages examples: the body is signed
// with the app secret (HMAC-SHA256 over the exact bytes sent) in X-Hub-Signature-256.
import { createHmac } from "node:crypto";
import { BASE, need } from "./env.ts";

export async function deliver(payload: unknown): Promise<Response> {
  const body = JSON.stringify(payload);
  const signature = `sha256=${createHmac("sha256", need("WHATSAPP_APP_SECRET")).update(body).digest("hex")}`;
  return await fetch(`${BASE}/webhook-whatsapp`, {
    method: "POST", headers: { "content-type": "application/json", "x-hub-signature-256": signature }, body,
  });
}

/** One inbound text message to `phoneNumberId`, shaped as Meta sends it. */
export function textMessage(phoneNumberId: string, from: string, text: string) {
  return {
    object: "whatsapp_business_account",
    entry: [{
      id: "100",
      changes: [{
        field: "messages",
        value: {
          messaging_product: "whatsapp",
          metadata: { display_phone_number: "15550100", phone_number_id: phoneNumberId },
          contacts: [{ profile: { name: "Example Customer" }, wa_id: from }],
          messages: [{ from, id: `wamid.example${Date.now()}`, timestamp: String(Math.floor(Date.now() / 1000)), type: "text", text: { body: text } }],
        },
      }],
    }],
  };
}
