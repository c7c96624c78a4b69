/**
 * Public types of the PII module. Runtime-neutral (Deno and Node), no dependencies.
 */

/** Closed set of PII types this module reports. Placeholders are `[<TYPE>_<n>]`. */
export const PII_TYPES = [
  "EMAIL",
  "PHONE",
  "SSN",
  "CREDIT_CARD",
  "IBAN",
  "IP_ADDRESS",
  "STREET_ADDRESS",
  "PASSPORT",
  "DATE_OF_BIRTH",
  "NATIONAL_ID",
  "DRIVERS_LICENSE",
  "MEDICAL_RECORD",
] as const;

export type PiiType = (typeof PII_TYPES)[number];

/** One finding: `text.slice(start, end)` is the personal data. */
export interface PiiMatch {
  type: PiiType;
  /** UTF-16 offset of the first character (inclusive). */
  start: number;
  /** UTF-16 offset after the last character (exclusive). */
  end: number;
  /** Confidence in [0, 1]. Strongly validated formats score >= 0.9, context-free guesses lower. */
  score: number;
}

export interface PiiOptions {
  /** Only report these types (default: all). */
  types?: readonly PiiType[];
  /** Drop matches whose score is below this value (default 0: report everything the detectors accept). */
  minScore?: number;
}

export interface MaskResult {
  /** The text with every match replaced by a placeholder such as `[EMAIL_1]`. */
  masked: string;
  /** placeholder -> original text. Feed it to `unmaskPii`. */
  placeholders: Record<string, string>;
}

export interface PiiSummary {
  /** Types present, in `PII_TYPES` order. */
  types: PiiType[];
  /** Number of matches per type (only types present). */
  counts: Partial<Record<PiiType, number>>;
}
