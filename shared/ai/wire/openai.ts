// OpenAI chat completions (and any OpenAI-compatible provider), through the official SDK with
// its retries off. GPT-5 models take max_completion_tokens and only the default temperature.
import OpenAI from "openai";
import { BadResponse } from "../classify.ts";
import { isGpt5 } from "../registry.ts";
import type { ChatRequest, Finish, WireClient, WireOptions } from "../types.ts";

function params(req: ChatRequest) {
  const messages = [
    ...(req.system ? [{ role: "system" as const, content: req.system }] : []),
    { role: "user" as const, content: req.user },
  ];
  return isGpt5(req.model)
    ? { model: req.model, messages, max_completion_tokens: req.maxTokens }
    : { model: req.model, messages, max_tokens: req.maxTokens, temperature: req.temperature };
}

const finishOf = (r: string | null | undefined): Finish => (r === "stop" ? "stop" : r === "length" ? "length" : "other");

export function openaiWire(o: WireOptions): WireClient {
  const client = new OpenAI({ apiKey: o.apiKey, baseURL: o.baseUrl, maxRetries: 0, timeout: o.timeoutMs, fetch: o.fetch });
  return {
    async complete(req, signal) {
      const r = await client.chat.completions.create(params(req), { signal });
      const text = r.choices?.[0]?.message?.content;
      if (typeof text !== "string") throw new BadResponse("no text");
      return {
        text, model: r.model ?? req.model, finish: finishOf(r.choices[0].finish_reason),
        inputTokens: r.usage?.prompt_tokens ?? 0, outputTokens: r.usage?.completion_tokens ?? 0,
      };
    },
    async *stream(req, signal) {
      const s = await client.chat.completions.create({ ...params(req), stream: true, stream_options: { include_usage: true } }, { signal });
      let model = req.model, finish: Finish = "other", inputTokens = 0, outputTokens = 0, sawEnd = false;
      for await (const chunk of s) {
        if (chunk.model) model = chunk.model;
        const choice = chunk.choices?.[0];
        if (choice?.delta?.content) yield { type: "delta" as const, text: choice.delta.content };
        if (choice?.finish_reason) (finish = finishOf(choice.finish_reason)), (sawEnd = true);
        if (chunk.usage) {
          inputTokens = chunk.usage.prompt_tokens ?? 0;
          outputTokens = chunk.usage.completion_tokens ?? 0;
        }
      }
      // A stream cut before the provider said how it ended is a failure, not an answer.
      if (finish === "other" && !sawEnd) throw new BadResponse("stream ended early");
      yield { type: "end" as const, model, finish, inputTokens, outputTokens };
    },
    async validate(signal) {
      await client.models.list({ signal });
    },
  };
}
