/** Shared label types for the PII labelled set. */
import type { PiiType } from "../../shared/pii/index.ts";

export const DECOY_CLASSES = [
  "ORDER_NUMBER",
  "PO_NUMBER",
  "INVOICE_NUMBER",
  "SKU",
  "TRACKING_NUMBER",
  "EAN_UPC",
  "PRICE",
  "QUANTITY",
  "DATE",
  "TIME",
  "VERSION",
  "OTHER_NUMBER",
] as const;
export type DecoyClass = (typeof DECOY_CLASSES)[number];

export interface Span<K> {
  kind: K;
  value: string;
  start: number;
  end: number;
}
export interface LabelledMessage {
  id: string;
  text: string;
  pii: Span<PiiType>[];
  decoys: Span<DecoyClass>[];
}

/** A message under construction: plain strings, PII values and decoys. */
export type Part = string | { pii: PiiType; v: string } | { decoy: DecoyClass; v: string };
export const P = (pii: PiiType, v: string): Part => ({ pii, v });
export const D = (decoy: DecoyClass, v: string): Part => ({ decoy, v });

export function build(id: string, parts: Part[]): LabelledMessage {
  let text = "";
  const pii: Span<PiiType>[] = [];
  const decoys: Span<DecoyClass>[] = [];
  for (const p of parts) {
    if (typeof p === "string") text += p;
    else if ("pii" in p) {
      pii.push({ kind: p.pii, value: p.v, start: text.length, end: text.length + p.v.length });
      text += p.v;
    } else {
      decoys.push({ kind: p.decoy, value: p.v, start: text.length, end: text.length + p.v.length });
      text += p.v;
    }
  }
  return { id, text, pii, decoys };
}

