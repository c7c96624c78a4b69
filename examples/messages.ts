// npx tsx examples/messages.ts — a customer writes to your WhatsApp number, then you read the
// conversation. messages is multi-tenant: every call names the distributor in X-Distributor-Id.
// (Sending a reply, POST messages, calls Meta's Graph API, so it is not run here.)
import { explain, supabase } from "./env.ts";
import { deliver, textMessage } from "./meta.ts";

const created = await supabase.functions.invoke("distributors", { method: "POST", body: { name: `Messages example ${Date.now()}` } });
if (created.error) throw new Error(`create distributor: ${await explain(created.error)}`);
const distributorId: string = created.data.id;
const phoneNumberId = `2${String(Date.now()).padStart(15, "0")}`;
const connected = await supabase.functions.invoke(`distributors/${distributorId}/whatsapp`, {
  method: "POST", body: { phone_number_id: phoneNumberId, display_phone_number: "+1 555 0100", access_token: "EAAG-example" },
});
if (connected.error) throw new Error(`connect whatsapp: ${await explain(connected.error)}`);

const delivered = await deliver(textMessage(phoneNumberId, "15550001111", "Hello, I'm jane@example.com"));
console.log("inbound message delivered:", delivered.status);

const headers = { "X-Distributor-Id": distributorId };
const conversations = await supabase.functions.invoke("messages/conversations", { method: "GET", headers });
if (conversations.error) throw new Error(`conversations: ${await explain(conversations.error)}`);
const [conversation] = conversations.data.conversations;
// Previews are masked (PII replaced by placeholders); the message itself is decrypted for members.
console.log("conversations:", conversations.data.conversations.length, "preview:", conversation.preview);

const messages = await supabase.functions.invoke(`messages/conversations/${conversation.id}/messages`, { method: "GET", headers });
if (messages.error) throw new Error(`messages: ${await explain(messages.error)}`);
console.log("first message:", messages.data.messages[0].content);
