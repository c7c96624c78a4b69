// Mistral chat completions, through the official SDK with its retries off (retryConfig none);
// our fetch goes in through its HTTPClient.
import { HTTPClient, Mistral } from "@mistralai/mistralai";
import { BadResponse } from "../classify.ts";
import type { ChatRequest, Finish, WireClient, WireOptions } from "../types.ts";

function params(req: ChatRequest) {
  return {
    model: req.model, maxTokens: req.maxTokens, temperature: req.temperature,
    messages: [
      ...(req.system ? [{ role: "system" as const, content: req.system }] : []),
      { role: "user" as const, content: req.user },
    ],
  };
}

const finishOf = (r: string | null | undefined): Finish => (r === "stop" ? "stop" : r === "length" || r === "model_length" ? "length" : "other");

function textOf(content: unknown): string | null {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((c) => (c && typeof c === "object" && "text" in c ? String(c.text) : "")).join("");
  return null;
}

export function mistralWire(o: WireOptions): WireClient {
  const client = new Mistral({
    apiKey: o.apiKey, serverURL: o.baseUrl, retryConfig: { strategy: "none" }, timeoutMs: o.timeoutMs,
    httpClient: new HTTPClient({ fetcher: (input, init) => o.fetch(input, init) }),
  });
  return {
    async complete(req, signal) {
      const r = await client.chat.complete(params(req), { fetchOptions: { signal }, retries: { strategy: "none" } });
      const text = textOf(r.choices?.[0]?.message?.content);
      if (text === null) throw new BadResponse("no text");
      return {
        text, model: r.model ?? req.model, finish: finishOf(r.choices[0].finishReason),
        inputTokens: r.usage?.promptTokens ?? 0, outputTokens: r.usage?.completionTokens ?? 0,
      };
    },
    async *stream(req, signal) {
      const s = await client.chat.stream(params(req), { fetchOptions: { signal }, retries: { strategy: "none" } });
      let model = req.model, finish: Finish = "other", inputTokens = 0, outputTokens = 0, sawEnd = false;
      for await (const ev of s) {
        const chunk = ev.data;
        if (chunk.model) model = chunk.model;
        const choice = chunk.choices?.[0];
        const text = textOf(choice?.delta?.content);
        if (text) yield { type: "delta" as const, text };
        if (choice?.finishReason) (finish = finishOf(choice.finishReason)), (sawEnd = true);
        if (chunk.usage) {
          inputTokens = chunk.usage.promptTokens ?? 0;
          outputTokens = chunk.usage.completionTokens ?? 0;
        }
      }
      // A stream cut before the provider said how it ended is a failure, not an answer.
      if (finish === "other" && !sawEnd) throw new BadResponse("stream ended early");
      yield { type: "end" as const, model, finish, inputTokens, outputTokens };
    },
    async validate(signal) {
      await client.models.list({}, { fetchOptions: { signal }, retries: { strategy: "none" } });
    },
  };
}
