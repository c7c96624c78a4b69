// PII never leaves: the parts of a prompt are masked together (one placeholder numbering, so
// the same value is the same placeholder everywhere), answers unmasked before the caller sees
// them, and PII in an answer that the caller did not supply is found for review.
// The gateway imports this module (and with it shared/pii's scanner, ~11 ms of a cold start)
// when a request first needs it, not at start.
import { detectPii, maskPii, unmaskPii } from "../pii/index.ts";

const SEP = "\n\u241E\n";

/** Mask `parts` as one text; returns the masked parts and the placeholder map. */
export function maskParts(parts: string[]): { masked: string[]; placeholders: Record<string, string> } {
  const joined = parts.map((p) => p.replaceAll("\u241E", " ")).join(SEP);
  const { masked, placeholders } = maskPii(joined);
  return { masked: masked.split(SEP), placeholders };
}

export { unmaskPii };

const norm = (v: string) => v.toLowerCase().replace(/[^\p{L}\p{N}@]/gu, "");

/**
 * PII in `answer` whose value is not among `supplied` (what the caller's own input held).
 * `more`, when given, is consulted only if some value is not in `supplied` (the same answer as
 * passing both at once, without computing `more` for the common answer that holds no PII, or
 * only PII the placeholders already name).
 */
export function unexpectedPii(answer: string, supplied: Iterable<string>, more?: () => Iterable<string>): { containsPii: boolean; unexpected: number } {
  const found = detectPii(answer);
  if (found.length === 0) return { containsPii: false, unexpected: 0 };
  const known = new Set(Array.from(supplied, norm));
  let rest = found.map((m) => norm(answer.slice(m.start, m.end))).filter((v) => !known.has(v));
  if (rest.length && more) {
    for (const v of more()) known.add(norm(v));
    rest = rest.filter((v) => !known.has(v));
  }
  return { containsPii: true, unexpected: rest.length };
}

/** The values of every PII match in `texts` (the caller's input, for unexpectedPii). */
export function suppliedValues(texts: string[]): string[] {
  return texts.flatMap((t) => detectPii(t).map((m) => t.slice(m.start, m.end)));
}

// Unmasking a streamed answer: a placeholder may arrive split across deltas ("[EMA" + "IL_1]"),
// so text from an unclosed "[" that could still become a placeholder is held back until it
// closes (or cannot be one), then unmasked and released.
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
