// One module per wire format; the registry's `wire` column picks one.
import type { Wire } from "../registry.ts";
import type { WireFactory } from "../types.ts";
import { anthropicWire } from "./anthropic.ts";
import { geminiWire } from "./gemini.ts";
import { mistralWire } from "./mistral.ts";
import { openaiWire } from "./openai.ts";

export const WIRE_FACTORIES: Record<Wire, WireFactory> = {
  openai: openaiWire,
  anthropic: anthropicWire,
  mistral: mistralWire,
  gemini: geminiWire,
};
