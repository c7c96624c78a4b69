// npx tsx examples/manage-user-secrets.ts — save, list, read and delete one of your API keys.
// functions.invoke() POSTs unless told otherwise: the read actions need `method: "GET"`.
import { explain, supabase } from "./env.ts";

const serviceName = "openai_api_key_encrypted";
const saved = await supabase.functions.invoke("manage-user-secrets?action=save", {
  method: "POST", body: { serviceName, value: "sk-example-123" },
});
if (saved.error) throw new Error(`save: ${await explain(saved.error)}`);
console.log("save:", JSON.stringify(saved.data));

const listed = await supabase.functions.invoke("manage-user-secrets?action=list", { method: "GET" });
if (listed.error) throw new Error(`list: ${await explain(listed.error)}`);
console.log("list:", listed.data.secrets.map((s: { service_name: string }) => s.service_name).join(", "));

const got = await supabase.functions.invoke(`manage-user-secrets?action=get&serviceName=${serviceName}`, { method: "GET" });
if (got.error) throw new Error(`get: ${await explain(got.error)}`);
console.log("get:", got.data.value === "sk-example-123" ? "value matches" : "value differs");

const removed = await supabase.functions.invoke("manage-user-secrets?action=delete", { method: "POST", body: { serviceName } });
if (removed.error) throw new Error(`delete: ${await explain(removed.error)}`);
console.log("delete:", JSON.stringify(removed.data));
