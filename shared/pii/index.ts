/**
 * PII detection and reversible masking for chat text.
 *
 *   detectPii(text, { types?, minScore? }) -> PiiMatch[]   ({ type, start, end, score }, sorted, non-overlapping)
 *   maskPii(text, options?)   -> { masked, placeholders }  ("[EMAIL_1]" ... ; placeholder -> original)
 *   unmaskPii(text, placeholders) -> string                (unknown placeholders stay untouched)
 *   summarizePii(matches)     -> { types, counts }         (safe to store: no values)
 *
 * Runtime-neutral TypeScript (Deno and Node), no dependencies, no I/O. See docs/pii.md.
 */
export { detectPii, maskPii, PLACEHOLDER_RE, summarizePii, unmaskPii } from "./mask.ts";
export { PII_TYPES } from "./types.ts";
export type { MaskResult, PiiMatch, PiiOptions, PiiSummary, PiiType } from "./types.ts";
