// Gemini generateContent (and long-running video operations), through the official SDK with
// its retries off (retryOptions.attempts = 1) and our fetch.
import { GoogleGenAI } from "@google/genai";
import { BadResponse } from "../classify.ts";
import type { ChatRequest, Finish, WireClient, WireOptions } from "../types.ts";

export function geminiClient(o: WireOptions): GoogleGenAI {
  return new GoogleGenAI({
    apiKey: o.apiKey,
    httpOptions: { baseUrl: o.baseUrl, timeout: o.timeoutMs, retryOptions: { attempts: 1 }, fetch: o.fetch },
  });
}

function params(req: ChatRequest, signal: AbortSignal) {
  return {
    model: req.model,
    contents: [{ role: "user", parts: [{ text: req.user }] }],
    config: {
      ...(req.system ? { systemInstruction: req.system } : {}),
      maxOutputTokens: req.maxTokens, temperature: req.temperature, abortSignal: signal,
    },
  };
}

const finishOf = (r: string | null | undefined): Finish => (r === "STOP" ? "stop" : r === "MAX_TOKENS" ? "length" : "other");

export function geminiWire(o: WireOptions): WireClient {
  const ai = geminiClient(o);
  return {
    async complete(req, signal) {
      const r = await ai.models.generateContent(params(req, signal));
      const text = r.text;
      if (typeof text !== "string") throw new BadResponse("no text");
      return {
        text, model: r.modelVersion ?? req.model, finish: finishOf(r.candidates?.[0]?.finishReason),
        inputTokens: r.usageMetadata?.promptTokenCount ?? 0, outputTokens: r.usageMetadata?.candidatesTokenCount ?? 0,
      };
    },
    async *stream(req, signal) {
      const s = await ai.models.generateContentStream(params(req, signal));
      let model = req.model, finish: Finish = "other", inputTokens = 0, outputTokens = 0, sawEnd = false;
      for await (const chunk of s) {
        if (chunk.modelVersion) model = chunk.modelVersion;
        const text = chunk.text;
        if (text) yield { type: "delta" as const, text };
        const f = chunk.candidates?.[0]?.finishReason;
        if (f) (finish = finishOf(f)), (sawEnd = true);
        if (chunk.usageMetadata) {
          inputTokens = chunk.usageMetadata.promptTokenCount ?? inputTokens;
          outputTokens = chunk.usageMetadata.candidatesTokenCount ?? outputTokens;
        }
      }
      // A stream cut before the provider said how it ended is a failure, not an answer.
      if (finish === "other" && !sawEnd) throw new BadResponse("stream ended early");
      yield { type: "end" as const, model, finish, inputTokens, outputTokens };
    },
    async validate(signal) {
      await ai.models.list({ config: { pageSize: 1, abortSignal: signal } });
    },
  };
}
