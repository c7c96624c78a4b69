// Unmasking a streamed answer: a placeholder may arrive split across deltas ("[EMA" + "IL_1]"),
// so text from an unclosed "[" that could still become a placeholder is held back until it
// closes (or cannot be one), then unmasked and released.
import { unmaskPii } from "../pii/index.ts";

const MAX_PLACEHOLDER = 32;
const PARTIAL = /^\[[A-Z_]*[0-9]*$/;

export class StreamUnmasker {
  #held = "";
  constructor(private readonly placeholders: Readonly<Record<string, string>>) {}

  /** Text safe to send now (unmasked). */
  push(chunk: string): string {
    const buf = this.#held + chunk;
    const i = buf.lastIndexOf("[");
    let cut = buf.length;
    if (i >= 0 && buf.length - i < MAX_PLACEHOLDER && PARTIAL.test(buf.slice(i))) cut = i;
    this.#held = buf.slice(cut);
    return unmaskPii(buf.slice(0, cut), this.placeholders);
  }

  /** Whatever is left at the end. */
  flush(): string {
    const out = unmaskPii(this.#held, this.placeholders);
    this.#held = "";
    return out;
  }
}

/** One Server-Sent Event. */
export function sseEvent(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
