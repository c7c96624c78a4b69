// npx tsx examples/distributors.ts — create a distributor (you become its OWNER), connect a
// WhatsApp number to it (needs an aal2 token: npm start's is), and list your distributors.
import { explain, supabase } from "./env.ts";

const created = await supabase.functions.invoke("distributors", { method: "POST", body: { name: `Example Co ${Date.now()}` } });
if (created.error) throw new Error(`create: ${await explain(created.error)}`);
console.log("created:", created.data.name, "as", created.data.role);

// Path parameters go in the function name; the phone_number_id must be unique across distributors.
const phoneNumberId = `1${String(Date.now()).padStart(15, "0")}`;
const connected = await supabase.functions.invoke(`distributors/${created.data.id}/whatsapp`, {
  method: "POST", body: { phone_number_id: phoneNumberId, display_phone_number: "+1 555 0100", access_token: "EAAG-example" },
});
if (connected.error) throw new Error(`connect whatsapp: ${await explain(connected.error)}`);
console.log("whatsapp connected:", connected.data.phone_number_id);

const listed = await supabase.functions.invoke("distributors", { method: "GET" });
if (listed.error) throw new Error(`list: ${await explain(listed.error)}`);
const mine = listed.data.distributors.find((d: { id: string }) => d.id === created.data.id);
console.log("listed:", listed.data.distributors.length, "distributor(s), including the new one:", !!mine);
