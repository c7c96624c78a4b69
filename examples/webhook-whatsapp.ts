// npx tsx examples/webhook-whatsapp.ts — what Meta does: verify the webhook URL (GET with the
// verify token, the challenge is echoed), then POST a signed delivery. No supabase-js here:
// Meta calls the function directly, with no user token (verify_jwt = false on Supabase).
import { BASE, need } from "./env.ts";
import { deliver } from "./meta.ts";

const params = new URLSearchParams({ "hub.mode": "subscribe", "hub.verify_token": need("WHATSAPP_VERIFY_TOKEN"), "hub.challenge": "challenge-42" });
const verified = await fetch(`${BASE}/webhook-whatsapp?${params}`);
console.log("verify:", verified.status, await verified.text());

const wrong = await fetch(`${BASE}/webhook-whatsapp?${new URLSearchParams({ ...Object.fromEntries(params), "hub.verify_token": "wrong" })}`);
console.log("verify with a wrong token:", wrong.status);

const delivered = await deliver({ object: "whatsapp_business_account", entry: [] });
console.log("signed delivery:", delivered.status, await delivered.text());

const forged = await fetch(`${BASE}/webhook-whatsapp`, {
  method: "POST", headers: { "content-type": "application/json", "x-hub-signature-256": "sha256=" + "0".repeat(64) },
  body: JSON.stringify({ object: "whatsapp_business_account", entry: [] }),
});
console.log("forged signature:", forged.status);
if (verified.status !== 200 || delivered.status !== 200 || wrong.status !== 403 || forged.status !== 401) process.exit(1);
