// A fake Meta Graph API (WhatsApp Cloud API) on 127.0.0.1: records every request and answers
// from a script (one entry per call, in order), then from a default (success with a fresh
// wamid, or whatever setDefault chose). Point GRAPH_API_BASE_URL at `url`. Phone numbers put in
// `phoneNumbers` answer GET /<version>/<phone_number_id> as Meta does (after the script).
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  contentType: string | undefined;
  /** Parsed JSON, or the raw text when it is not JSON. */
  body: unknown;
}

export interface ScriptedResponse {
  status: number;
  headers?: Record<string, string>;
  /** An object is sent as JSON; a string is sent as is (e.g. malformed JSON). */
  body?: unknown;
  /** Wait this long before answering (to trigger client timeouts). */
  delayMs?: number;
}

export interface FakeGraph {
  url: string;
  requests: RecordedRequest[];
  /** Answers for the next calls, in order. */
  script(...responses: ScriptedResponse[]): void;
  /** The answer once the script is used up (default: graphOk with a fresh wamid). */
  setDefault(response: ScriptedResponse | null): void;
  /**
   * Phone numbers the fake knows (the script still answers first): GET /<version>/<id> with the
   * number's token → 200 {display_phone_number, verified_name, id}; another token → 401
   * OAuthException code 190; an id not in the map → 400 code 100, as Meta answers.
   */
  phoneNumbers: Map<string, { token: string; display_phone_number: string; verified_name?: string }>;
  /** Forget requests, script and phone numbers; back to the default answer. */
  reset(): void;
  close(): Promise<void>;
}

let counter = 0;
export const nextWamid = () => `wamid.FAKE${Date.now().toString(36)}${(++counter).toString(36).padStart(4, "0")}`;

/** Graph's answer to a successful send. */
export function graphOk(wamid = nextWamid(), to = "15550000000"): ScriptedResponse {
  return {
    status: 200,
    body: { messaging_product: "whatsapp", contacts: [{ input: to, wa_id: to }], messages: [{ id: wamid }] },
  };
}

/** Graph's error envelope. */
export function graphError(status: number, code: number, message: string, headers: Record<string, string> = {}): ScriptedResponse {
  return {
    status,
    headers,
    body: { error: { message, type: "OAuthException", code, error_subcode: 2494010, fbtrace_id: "AbCdEf123" } },
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** GET /<version>/<phone_number_id>: Meta's answer for the numbers the fake knows. */
function phoneNumberAnswer(req: IncomingMessage, numbers: FakeGraph["phoneNumbers"]): ScriptedResponse | null {
  const m = req.method === "GET" ? /^\/v\d+\.\d+\/(\d+)(\?|$)/.exec(req.url ?? "") : null;
  if (!m) return null;
  const n = numbers.get(m[1]);
  if (!n) return graphError(400, 100, "Unsupported get request. Object with ID does not exist, cannot be loaded due to missing permissions, or does not support this operation.");
  if (req.headers.authorization !== `Bearer ${n.token}`) return graphError(401, 190, "Invalid OAuth access token - Cannot parse access token");
  return { status: 200, body: { display_phone_number: n.display_phone_number, verified_name: n.verified_name ?? "Test Business", id: m[1] } };
}

export async function startFakeGraph(): Promise<FakeGraph> {
  const requests: RecordedRequest[] = [];
  const phoneNumbers: FakeGraph["phoneNumbers"] = new Map();
  let queue: ScriptedResponse[] = [];
  let fallback: ScriptedResponse | null = null;

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const text = await readBody(req);
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // keep the raw text
    }
    requests.push({
      method: req.method ?? "",
      path: req.url ?? "",
      authorization: req.headers.authorization,
      contentType: req.headers["content-type"],
      body,
    });
    const to = (body as { to?: string } | null)?.to;
    const r = queue.shift() ?? phoneNumberAnswer(req, phoneNumbers) ?? fallback ?? graphOk(nextWamid(), typeof to === "string" ? to : undefined);
    if (r.delayMs) await new Promise((resolve) => setTimeout(resolve, r.delayMs));
    if (res.destroyed) return;
    const payload = r.body === undefined ? "" : typeof r.body === "string" ? r.body : JSON.stringify(r.body);
    res.writeHead(r.status, { "content-type": "application/json", ...r.headers });
    res.end(payload);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    phoneNumbers,
    script: (...responses) => {
      queue.push(...responses);
    },
    setDefault: (r) => {
      fallback = r;
    },
    reset: () => {
      requests.length = 0;
      queue = [];
      fallback = null;
      phoneNumbers.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
