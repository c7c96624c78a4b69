// Set-up of the webhooks tests: one Deps (loopback receivers allowed: the development flag, on in
// tests only), the webhooks app with a stub resolver (real ipaddr.js checks behind it), tenants,
// and small receivers on 127.0.0.1.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createApp } from "../../functions/webhooks/app.ts";
import type { Deps } from "../../shared/runtime/deps.ts";
import type { Resolver } from "../../shared/webhooks/ssrf.ts";

export const BASE = "http://localhost/functions/v1/webhooks";
export const LOOPBACK_ENV = { WEBHOOKS_ALLOW_LOOPBACK: "true", ENVIRONMENT: "test" };

/** Names the tests resolve; anything else fails like NXDOMAIN. */
export const DNS: Record<string, string[]> = {
  "hooks.example.com": ["93.184.216.34"],
  "v6.example.com": ["2606:2800:220:1:248:1893:25c8:1946"],
  "internal.example.com": ["10.1.2.3"],
  "metadata.example.com": ["169.254.169.254"],
  "mixed.example.com": ["93.184.216.34", "10.0.0.7"],
  "mapped.example.com": ["::ffff:192.168.0.1"],
  "ula.example.com": ["fd12:3456::1"],
  "localhost": ["127.0.0.1"],
  "receiver.test": ["127.0.0.1"],
};

export const stubResolver = (table: Record<string, string[]> = DNS): Resolver => async (name) => {
  const found = table[name];
  if (!found) throw Object.assign(new Error("not found"), { code: "ENOTFOUND" });
  return found;
};

export function webhooksApi(deps: Deps, resolve: Resolver = stubResolver()) {
  const app = createApp(deps, { resolve });
  return (method: string, path: string, token: string | null, distributor: string | null, body?: unknown, headers: Record<string, string> = {}) =>
    app.request(`${BASE}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(distributor ? { "x-distributor-id": distributor } : {}),
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
}

export interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** How the next requests are answered (then `fallback`). */
  respond: (r: ReceiverAnswer) => void;
  fallback: ReceiverAnswer;
  close(): Promise<void>;
}

export type ReceiverAnswer =
  | { status: number; headers?: Record<string, string>; body?: string }
  | { hang: true };

/** A receiver on 127.0.0.1 answering from a queue (default 200). */
export async function startReceiver(): Promise<Receiver> {
  const queue: ReceiverAnswer[] = [];
  const received: Received[] = [];
  const hanging: ServerResponse[] = [];
  const r = {} as Receiver;
  r.fallback = { status: 200, body: "ok" };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) headers[k] = String(v);
      received.push({ path: req.url ?? "", headers, body: Buffer.concat(chunks).toString("utf8") });
      const a = queue.shift() ?? r.fallback;
      if ("hang" in a) {
        hanging.push(res);
        return;
      }
      res.writeHead(a.status, a.headers ?? {});
      res.end(a.body ?? "");
    });
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address() as AddressInfo;
  Object.assign(r, {
    url: `http://127.0.0.1:${port}`,
    received,
    respond: (a: ReceiverAnswer) => queue.push(a),
    close: () => {
      for (const h of hanging) h.destroy();
      server.closeAllConnections?.();
      return new Promise<void>((ok) => server.close(() => ok()));
    },
  });
  return r;
}
