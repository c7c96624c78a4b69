// One module per wire format; the registry's `wire` column picks one.
//
// The provider SDKs are loaded on first use (issue 10: importing all four cost ai-respond most
// of its cold start, @mistralai/mistralai alone ~0.6 s, while a request uses one provider and
// most requests none): each factory returns a client whose first call imports its wire module.
import type { Wire } from "../registry.ts";
import type { WireClient, WireFactory, WireOptions } from "../types.ts";

function lazyWire(load: () => Promise<WireFactory>): WireFactory {
  return (o: WireOptions): WireClient => {
    let client: Promise<WireClient> | undefined;
    const get = () =>
      (client ??= load().then((make) => make(o)).catch((err) => {
        client = undefined; // a failed load is retried by the next call
        throw err;
      }));
    return {
      async complete(req, signal) {
        return await (await get()).complete(req, signal);
      },
      async *stream(req, signal) {
        yield* (await get()).stream(req, signal);
      },
      async validate(signal) {
        return await (await get()).validate(signal);
      },
    };
  };
}

export const WIRE_FACTORIES: Record<Wire, WireFactory> = {
  openai: lazyWire(async () => (await import("./openai.ts")).openaiWire),
  anthropic: lazyWire(async () => (await import("./anthropic.ts")).anthropicWire),
  mistral: lazyWire(async () => (await import("./mistral.ts")).mistralWire),
  gemini: lazyWire(async () => (await import("./gemini.ts")).geminiWire),
};
