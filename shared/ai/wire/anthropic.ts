// Anthropic messages, through the official SDK with its retries off.
import Anthropic from "@anthropic-ai/sdk";
import { BadResponse } from "../classify.ts";
import type { ChatRequest, Finish, WireClient, WireOptions } from "../types.ts";

function params(req: ChatRequest) {
  return {
    model: req.model, max_tokens: req.maxTokens, temperature: req.temperature,
    ...(req.system ? { system: req.system } : {}),
    messages: [{ role: "user" as const, content: req.user }],
  };
}

const finishOf = (r: string | null | undefined): Finish => (r === "end_turn" || r === "stop_sequence" ? "stop" : r === "max_tokens" ? "length" : "other");

export function anthropicWire(o: WireOptions): WireClient {
  const client = new Anthropic({ apiKey: o.apiKey, baseURL: o.baseUrl, maxRetries: 0, timeout: o.timeoutMs, fetch: o.fetch });
  return {
    async complete(req, signal) {
      const r = await client.messages.create(params(req), { signal });
      const blocks = (r.content ?? []).filter((b): b is Anthropic.TextBlock => b.type === "text");
      if (!blocks.length) throw new BadResponse("no text");
      return {
        text: blocks.map((b) => b.text).join(""), model: r.model ?? req.model, finish: finishOf(r.stop_reason),
        inputTokens: r.usage?.input_tokens ?? 0, outputTokens: r.usage?.output_tokens ?? 0,
      };
    },
    async *stream(req, signal) {
      const s = await client.messages.create({ ...params(req), stream: true }, { signal });
      let model = req.model, finish: Finish = "other", inputTokens = 0, outputTokens = 0, sawEnd = false;
      for await (const ev of s) {
        if (ev.type === "message_start") {
          model = ev.message.model ?? model;
          inputTokens = ev.message.usage?.input_tokens ?? 0;
          outputTokens = ev.message.usage?.output_tokens ?? 0;
        } else if (ev.type === "content_block_delta" && ev.delta.type === "text_delta") {
          if (ev.delta.text) yield { type: "delta" as const, text: ev.delta.text };
        } else if (ev.type === "message_delta") {
          finish = finishOf(ev.delta.stop_reason);
          sawEnd = true;
          outputTokens = ev.usage?.output_tokens ?? outputTokens;
        }
      }
      // A stream cut before the provider said how it ended is a failure, not an answer.
      if (finish === "other" && !sawEnd) throw new BadResponse("stream ended early");
      yield { type: "end" as const, model, finish, inputTokens, outputTokens };
    },
    async validate(signal) {
      await client.models.list({}, { signal });
    },
  };
}
