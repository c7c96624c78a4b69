// A stand-in for Meta's Graph API for `npm start` (no network in development), to be wired by
// scripts/dev.ts: start it, and set GRAPH_API_BASE_URL to its url unless the environment names
// a Graph API already.
//
//   GET  /<version>/<phone_number_id>?fields=…   → 200 {display_phone_number, verified_name, id}
//        for any digits id and any non-empty bearer token (the display number is DEV_DISPLAY,
//        the one the README walkthrough and examples/ submit), so POST /distributors/{id}/whatsapp
//        can prove "ownership" offline;
//   POST /<version>/<phone_number_id>/messages   → 200 with a fresh wamid (sends succeed);
//   anything else                                 → 404 in Graph's error envelope.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export const DEV_DISPLAY = "+1 555 0100";

export async function startDevGraph(
  log: (line: string) => void = () => {}, display = DEV_DISPLAY,
): Promise<{ url: string; stop: () => Promise<void> }> {
  let n = 0;
  const server = createServer((req, res) => {
    req.resume();
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    const url = req.url ?? "";
    const authorized = /^Bearer \S+$/.test(req.headers.authorization ?? "");
    const number = /^\/v\d+\.\d+\/(\d+)(\?|$)/.exec(url);
    const messages = /^\/v\d+\.\d+\/(\d+)\/messages$/.exec(url);
    if (!authorized) return send(401, { error: { message: "Invalid OAuth access token", type: "OAuthException", code: 190 } });
    if (req.method === "GET" && number) {
      log(`[dev-graph] GET phone number ${number[1]}`);
      return send(200, { display_phone_number: display, verified_name: "Dev Business", id: number[1] });
    }
    if (req.method === "POST" && messages) {
      log(`[dev-graph] send from ${messages[1]}`);
      return send(200, { messaging_product: "whatsapp", messages: [{ id: `wamid.DEV${Date.now().toString(36)}${(++n).toString(36)}` }] });
    }
    send(404, { error: { message: "Unsupported request", type: "GraphMethodException", code: 100 } });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
