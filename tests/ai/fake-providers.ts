// Fakes of OpenAI, Anthropic, Mistral and Gemini on 127.0.0.1, speaking each wire format
// (JSON answers, streaming chunks, errors, model lists, Gemini long-running operations). Every
// request is recorded (raw body included: the PII assertion reads them all). Each provider
// answers from its script (one entry per call), then from its default.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type Provider = "openai" | "anthropic" | "mistral" | "gemini";
export const FAKE_PROVIDERS: Provider[] = ["openai", "anthropic", "mistral", "gemini"];

/** Text every fake error carries: it must never reach a caller. */
export const PROVIDER_ERROR_TEXT = "PROVIDER-INTERNAL-DETAIL-7f3a";

export interface Scripted {
  status?: number;
  headers?: Record<string, string>;
  /** The answer's text (200). */
  text?: string;
  /** Stream these deltas (when the request asks for a stream). */
  chunks?: string[];
  /** Drop the connection after this many chunks. */
  dropAfter?: number;
  /** Wait before answering (ms); pause between chunks with chunkDelayMs. */
  delayMs?: number;
  chunkDelayMs?: number;
  /** Never answer. */
  hang?: boolean;
  usage?: { input: number; output: number };
  finish?: "stop" | "length";
  /** A raw body (sent as is). */
  raw?: string;
}

export interface Recorded {
  provider: Provider;
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The client went away before the answer was complete. */
  aborted: boolean;
}

export interface FakeProviders {
  url: string;
  requests: Recorded[];
  env: Record<string, string>;
  script(p: Provider, ...r: Scripted[]): void;
  setDefault(p: Provider, r: Scripted): void;
  /** Calls to `p`'s generating endpoint. */
  calls(p: Provider): Recorded[];
  reset(): void;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function providerOf(path: string): Provider | null {
  const m = /^\/(openai|anthropic|mistral|gemini)\//.exec(path);
  return (m?.[1] as Provider) ?? null;
}

const isGenerate = (r: Recorded) =>
  /chat\/completions$|\/v1\/messages$|:generateContent|:streamGenerateContent/.test(r.path.split("?")[0]) && r.method === "POST";

function errorBody(p: Provider, status: number): unknown {
  const message = `${PROVIDER_ERROR_TEXT} status ${status}`;
  if (p === "openai") return { error: { message, type: "invalid_request_error", param: null, code: String(status) } };
  if (p === "anthropic") return { type: "error", error: { type: status === 429 ? "rate_limit_error" : "api_error", message } };
  if (p === "mistral") return { object: "error", message, type: "invalid_request_error", code: status };
  return { error: { code: status, message, status: status === 429 ? "RESOURCE_EXHAUSTED" : "INTERNAL" } };
}

function okBody(p: Provider, model: string, text: string, usage: { input: number; output: number }, finish: "stop" | "length"): unknown {
  const created = Math.floor(Date.now() / 1000);
  if (p === "openai" || p === "mistral") {
    return {
      id: `cmpl-${crypto.randomUUID()}`, object: "chat.completion", created, model,
      choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: finish }],
      usage: { prompt_tokens: usage.input, completion_tokens: usage.output, total_tokens: usage.input + usage.output },
    };
  }
  if (p === "anthropic") {
    return {
      id: `msg_${crypto.randomUUID()}`, type: "message", role: "assistant", model, content: [{ type: "text", text }],
      stop_reason: finish === "stop" ? "end_turn" : "max_tokens", stop_sequence: null,
      usage: { input_tokens: usage.input, output_tokens: usage.output },
    };
  }
  return {
    candidates: [{ content: { role: "model", parts: [{ text }] }, finishReason: finish === "stop" ? "STOP" : "MAX_TOKENS", index: 0 }],
    usageMetadata: { promptTokenCount: usage.input, candidatesTokenCount: usage.output, totalTokenCount: usage.input + usage.output },
    modelVersion: model,
  };
}

/** The SSE frames of a streamed answer, one per chunk, plus the closing frames. */
function streamFrames(p: Provider, model: string, chunks: string[], usage: { input: number; output: number }, finish: "stop" | "length"): { head: string[]; body: string[]; tail: string[] } {
  const created = Math.floor(Date.now() / 1000);
  const data = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
  if (p === "openai" || p === "mistral") {
    const id = `chatcmpl-${crypto.randomUUID()}`;
    const chunk = (delta: Record<string, unknown>, fr: string | null, extra: Record<string, unknown> = {}) =>
      data({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, finish_reason: fr }], ...extra });
    return {
      head: [],
      body: chunks.map((c, i) => chunk(i === 0 ? { role: "assistant", content: c } : { content: c }, null)),
      tail: [
        p === "openai"
          ? chunk({}, finish) + data({ id, object: "chat.completion.chunk", created, model, choices: [], usage: { prompt_tokens: usage.input, completion_tokens: usage.output, total_tokens: usage.input + usage.output } })
          : chunk({ content: "" }, finish, { usage: { prompt_tokens: usage.input, completion_tokens: usage.output, total_tokens: usage.input + usage.output } }),
        "data: [DONE]\n\n",
      ],
    };
  }
  if (p === "anthropic") {
    const ev = (type: string, o: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...o })}\n\n`;
    return {
      head: [
        ev("message_start", { message: { id: `msg_${crypto.randomUUID()}`, type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: usage.input, output_tokens: 1 } } }),
        ev("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
      ],
      body: chunks.map((c) => ev("content_block_delta", { index: 0, delta: { type: "text_delta", text: c } })),
      tail: [
        ev("content_block_stop", { index: 0 }),
        ev("message_delta", { delta: { stop_reason: finish === "stop" ? "end_turn" : "max_tokens", stop_sequence: null }, usage: { output_tokens: usage.output } }),
        ev("message_stop", {}),
      ],
    };
  }
  const g = (text: string, last: boolean) => data({
    candidates: [{ content: { role: "model", parts: [{ text }] }, ...(last ? { finishReason: finish === "stop" ? "STOP" : "MAX_TOKENS" } : {}), index: 0 }],
    ...(last ? { usageMetadata: { promptTokenCount: usage.input, candidatesTokenCount: usage.output, totalTokenCount: usage.input + usage.output } } : {}),
    modelVersion: model,
  });
  return { head: [], body: chunks.map((c, i) => g(c, i === chunks.length - 1)), tail: [] };
}

function modelsBody(p: Provider): unknown {
  if (p === "openai") return { object: "list", data: [{ id: "gpt-5-mini", object: "model", created: 1, owned_by: "openai" }] };
  if (p === "anthropic") return { data: [{ type: "model", id: "claude-sonnet-4-5", display_name: "Claude Sonnet 4.5", created_at: "2025-09-29T00:00:00Z" }], has_more: false, first_id: "claude-sonnet-4-5", last_id: "claude-sonnet-4-5" };
  if (p === "mistral") return { object: "list", data: [{ id: "mistral-large-latest", object: "model", created: 1, owned_by: "mistralai", type: "base", capabilities: { completion_chat: true } }] };
  return { models: [{ name: "models/gemini-2.5-flash", displayName: "Gemini 2.5 Flash" }] };
}

export async function startFakeProviders(port = 0): Promise<FakeProviders> {
  const requests: Recorded[] = [];
  const scripts = new Map<Provider, Scripted[]>();
  const defaults = new Map<Provider, Scripted>();
  const sockets = new Set<Socket>();
  const operations = new Map<string, number>(); // name → polls

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const path = req.url ?? "";
    const p = providerOf(path);
    const rec: Recorded = { provider: p ?? "openai", method: req.method ?? "", path, headers: { ...req.headers }, body, aborted: false };
    requests.push(rec);
    res.on("close", () => {
      if (!res.writableFinished) rec.aborted = true;
    });
    if (!p) return void res.writeHead(404).end();
    const pathOnly = path.split("?")[0];

    const sendJson = (status: number, o: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(JSON.stringify(o));
    };

    // Gemini long-running operations.
    if (p === "gemini" && pathOnly.endsWith(":predictLongRunning")) {
      const model = /models\/([^:]+):/.exec(pathOnly)?.[1] ?? "veo";
      const name = `models/${model}/operations/op${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`;
      operations.set(name, 0);
      return sendJson(200, { name });
    }
    const opMatch = /\/gemini\/v1beta\/(models\/[^/]+\/operations\/[\w-]+)$/.exec(pathOnly);
    if (opMatch && req.method === "GET") {
      const name = opMatch[1];
      if (!operations.has(name)) return sendJson(404, errorBody(p, 404));
      const polls = operations.get(name)! + 1;
      operations.set(name, polls);
      return sendJson(200, polls < 2 ? { name, done: false } : {
        name, done: true, response: { "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse", generateVideoResponse: { generatedSamples: [{ video: { uri: `https://fake.example/${name}.mp4` } }] } },
      });
    }

    const isModels = req.method === "GET" && /\/models$/.test(pathOnly);
    const s: Scripted = scripts.get(p)?.shift() ?? defaults.get(p) ?? {};
    if (s.hang) return; // the client's timeout or abort ends it
    if (s.delayMs) await sleep(s.delayMs);
    const status = s.status ?? 200;
    if (status !== 200) return sendJson(status, errorBody(p, status), s.headers);
    if (s.raw !== undefined) {
      res.writeHead(200, { "content-type": "application/json", ...s.headers });
      return void res.end(s.raw);
    }
    if (isModels) return sendJson(200, modelsBody(p));

    let parsed: Record<string, unknown> = {};
    try {
      parsed = JSON.parse(body);
    } catch { /* not JSON */ }
    const model = String(parsed.model ?? /models\/([^:]+):/.exec(pathOnly)?.[1] ?? "model");
    const usage = s.usage ?? { input: 100, output: 20 };
    const finish = s.finish ?? "stop";
    const wantsStream = parsed.stream === true || pathOnly.includes(":streamGenerateContent");
    if (!wantsStream) return sendJson(200, okBody(p, model, s.text ?? "Thanks for your message!", usage, finish), s.headers);

    const frames = streamFrames(p, model, s.chunks ?? [s.text ?? "Thanks for your message!"], usage, finish);
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", ...s.headers });
    for (const f of frames.head) res.write(f);
    for (const [i, f] of frames.body.entries()) {
      if (s.dropAfter !== undefined && i >= s.dropAfter) {
        await sleep(100); // let the frames already written reach the client
        res.socket?.destroy();
        return;
      }
      res.write(f);
      if (s.chunkDelayMs) await sleep(s.chunkDelayMs);
      if (res.destroyed) return;
    }
    for (const f of frames.tail) res.write(f);
    res.end();
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    env: {
      OPENAI_BASE_URL: `${url}/openai/v1`, ANTHROPIC_BASE_URL: `${url}/anthropic`, MISTRAL_BASE_URL: `${url}/mistral`, GEMINI_BASE_URL: `${url}/gemini`,
      OPENAI_API_KEY: "sk-platform-openai", ANTHROPIC_API_KEY: "sk-platform-anthropic", MISTRAL_API_KEY: "platform-mistral", GEMINI_API_KEY: "platform-gemini",
    },
    script: (p, ...r) => scripts.set(p, [...(scripts.get(p) ?? []), ...r]),
    setDefault: (p, r) => defaults.set(p, r),
    calls: (p) => requests.filter((r) => r.provider === p && isGenerate(r)),
    reset: () => {
      requests.length = 0;
      scripts.clear();
      defaults.clear();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
