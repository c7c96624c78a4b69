// One outbound POST to an address that was checked: the TCP connection goes to `address` (no
// second DNS answer can swap it), TLS still verifies the certificate for the URL's host name
// (SNI). Redirects are never followed (a 3xx is just a status). The whole exchange has a
// timeout, and at most `maxBytes` of the response body are read.
import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";

export interface PinnedRequest {
  url: URL;
  address: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  maxBytes: number;
}

export interface PinnedResponse {
  status: number;
  headers: Record<string, string>;
  /** The first maxBytes bytes, decoded leniently. */
  body: string;
}

/** Why no HTTP answer came back. */
export class SendError extends Error {
  constructor(readonly errorClass: "timeout" | "connect_error", detail: string) {
    super(detail);
    this.name = "SendError";
  }
}

export type Sender = (req: PinnedRequest) => Promise<PinnedResponse>;

export const pinnedPost: Sender = (r) =>
  new Promise<PinnedResponse>((resolve, reject) => {
    const family = r.address.includes(":") ? 6 : 4;
    const pinned = ((_host: string, opts: { all?: boolean }, cb: (...a: unknown[]) => void) => {
      if (opts?.all) cb(null, [{ address: r.address, family }]);
      else cb(null, r.address, family);
    }) as unknown as LookupFunction;
    const isHttps = r.url.protocol === "https:";
    const hostname = r.url.hostname.replace(/^\[|\]$/g, "");
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const req = (isHttps ? https : http).request({
      method: "POST",
      hostname,
      port: r.url.port || (isHttps ? 443 : 80),
      path: `${r.url.pathname}${r.url.search}`,
      headers: { ...r.headers, "content-length": String(Buffer.byteLength(r.body)) },
      lookup: pinned,
      agent: false,
      ...(isHttps ? { servername: /^[\d.]+$|:/.test(hostname) ? undefined : hostname } : {}),
    }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const done = () => finish(() => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(", ") : v;
        resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks).subarray(0, r.maxBytes).toString("utf8") });
        res.destroy();
      });
      res.on("data", (c: Buffer) => {
        chunks.push(c);
        size += c.length;
        if (size >= r.maxBytes) done(); // enough: stop reading
      });
      res.on("end", done);
      res.on("error", done);
    });
    const timer = setTimeout(() => {
      finish(() => reject(new SendError("timeout", "timed out")));
      req.destroy();
    }, r.timeoutMs);
    req.on("error", (e) => finish(() => reject(new SendError("connect_error", (e as { code?: string }).code ?? "error"))));
    req.end(r.body);
  });
