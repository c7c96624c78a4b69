// PII never leaves: the parts of a prompt are masked together (one placeholder numbering, so
// the same value is the same placeholder everywhere), answers unmasked before the caller sees
// them, and PII in an answer that the caller did not supply is found for review.
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

/** PII in `answer` whose value is not among `supplied` (what the caller's own input held). */
export function unexpectedPii(answer: string, supplied: Iterable<string>): { containsPii: boolean; unexpected: number } {
  const found = detectPii(answer);
  const known = new Set([...supplied].map(norm));
  const unexpected = found.filter((m) => !known.has(norm(answer.slice(m.start, m.end)))).length;
  return { containsPii: found.length > 0, unexpected };
}

/** The values of every PII match in `texts` (the caller's input, for unexpectedPii). */
export function suppliedValues(texts: string[]): string[] {
  return texts.flatMap((t) => detectPii(t).map((m) => t.slice(m.start, m.end)));
}
