// What every wire module implements: one chat call, its streaming form, and a cheap key check.
export interface ChatRequest {
  model: string;
  /** Already masked. */
  system: string;
  /** Already masked. */
  user: string;
  maxTokens: number;
  temperature: number;
}

export type Finish = "stop" | "length" | "other";

export interface ChatResult {
  text: string;
  inputTokens: number;
  outputTokens: number;
  model: string;
  finish: Finish;
}

export type StreamEvent =
  | { type: "delta"; text: string }
  | { type: "end"; inputTokens: number; outputTokens: number; model: string; finish: Finish };

export interface WireClient {
  complete(req: ChatRequest, signal: AbortSignal): Promise<ChatResult>;
  stream(req: ChatRequest, signal: AbortSignal): AsyncIterable<StreamEvent>;
  /** One cheap authenticated call (list models). Throws like complete(). */
  validate(signal: AbortSignal): Promise<void>;
}

export interface WireOptions {
  apiKey: string;
  baseUrl: string;
  fetch: typeof fetch;
  /** The SDK's own timeout: a backstop behind our abort signal. */
  timeoutMs: number;
}

export type WireFactory = (o: WireOptions) => WireClient;
