/**
 * Quality figures on the labelled set: recall per PII type and the share of decoys
 * left intact per decoy class. Used by labelled.test.ts and scripts/bench-pii.ts.
 */
import { DECOY_CLASSES, type LabelledMessage } from "./labels.ts";

export interface SpanLike {
  type: string;
  start: number;
  end: number;
}

export interface Rate {
  total: number;
  ok: number;
  rate: number;
}

export interface QualityReport {
  /** recall per PII type (value found / values expected) */
  perType: Record<string, Rate>;
  /** decoys intact per decoy class */
  perDecoy: Record<string, Rate>;
  recall: Rate;
  intact: Rate;
  /** human-readable descriptions of the failures (for debugging) */
  misses: string[];
  damaged: string[];
}

function rate(total: number, ok: number): Rate {
  return { total, ok, rate: total === 0 ? 1 : ok / total };
}

function finish(
  perTypeRaw: Map<string, [number, number]>,
  perDecoyRaw: Map<string, [number, number]>,
  misses: string[],
  damaged: string[],
): QualityReport {
  const perType: Record<string, Rate> = {};
  const perDecoy: Record<string, Rate> = {};
  let rt = 0;
  let ro = 0;
  let dt = 0;
  let dO = 0;
  for (const [k, [t, o]] of perTypeRaw) {
    perType[k] = rate(t, o);
    rt += t;
    ro += o;
  }
  for (const c of DECOY_CLASSES) {
    const [t, o] = perDecoyRaw.get(c) ?? [0, 0];
    perDecoy[c] = rate(t, o);
    dt += t;
    dO += o;
  }
  return { perType, perDecoy, recall: rate(rt, ro), intact: rate(dt, dO), misses, damaged };
}

/**
 * Span-based evaluation. A PII value counts as found when a match covers all of it
 * (and, if `typed`, has the expected type). A decoy is intact when no match overlaps it.
 * `typeMap` maps detector type names to ours (for other detectors); unmapped types are ignored for recall.
 */
export function evaluateSpans(
  data: readonly LabelledMessage[],
  detect: (text: string) => readonly SpanLike[],
  typed = true,
): QualityReport {
  const perType = new Map<string, [number, number]>();
  const perDecoy = new Map<string, [number, number]>();
  const misses: string[] = [];
  const damaged: string[] = [];
  for (const m of data) {
    const found = detect(m.text);
    for (const p of m.pii) {
      const ok = found.some((f) => (!typed || f.type === p.kind) && f.start <= p.start && f.end >= p.end);
      const e = perType.get(p.kind) ?? [0, 0];
      e[0]++;
      if (ok) e[1]++;
      else misses.push(`${p.kind} ${JSON.stringify(p.value)} in ${JSON.stringify(m.text)}`);
      perType.set(p.kind, e);
    }
    for (const d of m.decoys) {
      const ok = !found.some((f) => f.start < d.end && f.end > d.start);
      const e = perDecoy.get(d.kind) ?? [0, 0];
      e[0]++;
      if (ok) e[1]++;
      else damaged.push(`${d.kind} ${JSON.stringify(d.value)} in ${JSON.stringify(m.text)}`);
      perDecoy.set(d.kind, e);
    }
  }
  return finish(perType, perDecoy, misses, damaged);
}

/**
 * Text-based evaluation for redactors that only return text (redact-pii): a value counts
 * as found when it no longer appears in the output, a decoy is intact when it still does.
 */
export function evaluateText(data: readonly LabelledMessage[], redact: (text: string) => string): QualityReport {
  const perType = new Map<string, [number, number]>();
  const perDecoy = new Map<string, [number, number]>();
  const misses: string[] = [];
  const damaged: string[] = [];
  for (const m of data) {
    const out = redact(m.text);
    for (const p of m.pii) {
      const ok = !out.includes(p.value);
      const e = perType.get(p.kind) ?? [0, 0];
      e[0]++;
      if (ok) e[1]++;
      else misses.push(`${p.kind} ${JSON.stringify(p.value)} in ${JSON.stringify(m.text)}`);
      perType.set(p.kind, e);
    }
    for (const d of m.decoys) {
      const ok = out.includes(d.value);
      const e = perDecoy.get(d.kind) ?? [0, 0];
      e[0]++;
      if (ok) e[1]++;
      else damaged.push(`${d.kind} ${JSON.stringify(d.value)} in ${JSON.stringify(m.text)}`);
      perDecoy.set(d.kind, e);
    }
  }
  return finish(perType, perDecoy, misses, damaged);
}
