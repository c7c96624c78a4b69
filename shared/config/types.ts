// Building blocks of the configuration schema: environment strings to typed values.
//
// A variable is declared with a builder below (`int(1, 100)`, `url()`, `oneOf([...])`, or
// `lazy(() => <zod schema>, fast)`), then `.optional()` or `.default(value)` as on a zod schema.
// The zod schema is the definition: it is what reports every error (./index.ts). It is built
// only when needed, so start-up pays nothing for the ~100 variables that are unset (their default
// or absence is known without zod), and a set variable is first tried by its `fast` check, a few
// lines of plain JS. A fast check only ever accepts a value its zod schema accepts, and returns
// what zod would; anything else (SKIP) goes to the zod schema. tests/unit/config-lazy.test.ts
// holds both to the one object schema. Building and running all the schemas at start-up cost a
// cold start ~10 ms (docs/performance.md, cold start).
import { z } from "zod";

/** What an unset variable becomes, as the zod object would decide it. */
export type Absent =
  | { kind: "required" }
  | { kind: "optional" }
  | { kind: "default"; value: unknown };

/** A fast check's "not sure": let the zod schema decide. */
export const SKIP: unique symbol = Symbol("config.skip");
export type Fast<T> = (value: string) => T | typeof SKIP;

/** One environment variable: its zod schema (built once, on first use) and its unset behaviour. */
export interface Var<S extends z.ZodType = z.ZodType> {
  readonly schema: () => S;
  readonly absent: Absent;
  /** For a set (trimmed, non-empty) value: zod's output, or SKIP. */
  readonly fast?: Fast<unknown>;
}

export interface LazyVar<S extends z.ZodType> extends Var<S> {
  /** As zod's `.optional()`: unset is left out of the result. */
  optional(): Var<z.ZodOptional<S>>;
  /** As zod's `.default(value)`: unset gives (a shallow copy of) `value`, not validated. */
  default(value: z.util.NoUndefined<z.output<S>>): Var<z.ZodDefault<S>>;
}

function once<T>(build: () => T): () => T {
  let built: { v: T } | undefined;
  return () => (built ??= { v: build() }).v;
}

export function lazy<S extends z.ZodType>(build: () => S, fast?: Fast<z.output<S>>): LazyVar<S> {
  const schema = once(build);
  return {
    schema,
    absent: { kind: "required" },
    fast,
    // A set value is never undefined: `.optional()` and `.default()` pass it to the inner schema.
    optional: () => ({ schema: once(() => schema().optional()), absent: { kind: "optional" }, fast }),
    default: (value) => ({
      schema: once(() => schema().default(value as never) as z.ZodDefault<S>),
      absent: { kind: "default", value },
      fast,
    }),
  };
}

/** A shape of variables (one fragment, or all of them). */
export type VarShape = Record<string, Var>;

/** The zod object schema a shape stands for (the types of the parsed configuration). */
export type SchemaOf<T extends VarShape> = z.ZodObject<{ [K in keyof T]: ReturnType<T[K]["schema"]> }>;

// ---- Fast checks: each accepts a subset of what its zod schema accepts, with zod's output. ----

/** z.coerce.number(): Number(value), finite. */
const finiteNumber = (v: string, min: number, max: number): number | typeof SKIP => {
  const n = Number(v);
  return Number.isFinite(n) && n >= min && n <= max ? n : SKIP;
};
/** z.string().url(): zod trims, strips tabs and newlines, then asks URL.canParse; no whitespace at all is the plain case. */
export const fastUrl: Fast<string> = (v) => (!/\s/.test(v) && URL.canParse(v) ? v : SKIP);
export const splitCsv = (v: string) => v.split(",").map((s) => s.trim()).filter(Boolean);
const BOOLS = ["true", "false", "1", "0", "on", "off"] as const;

// ---- Builders ----

/** An integer in [min, max] (`z.coerce.number().int().min(min).max(max)`). */
export const int = (min: number, max: number) =>
  lazy(() => z.coerce.number().int().min(min).max(max), (v) => {
    const n = finiteNumber(v, min, max);
    return n !== SKIP && Number.isSafeInteger(n) ? n : SKIP;
  });

/** A number in [min, max] (`z.coerce.number().min(min).max(max)`). */
export const num = (min: number, max: number) => lazy(() => z.coerce.number().min(min).max(max), (v) => finiteNumber(v, min, max));

/** true/1/on or false/0/off. */
export const bool = () =>
  lazy(() => z.enum(BOOLS).transform((v) => ["true", "1", "on"].includes(v)), (v) =>
    (BOOLS as readonly string[]).includes(v) ? ["true", "1", "on"].includes(v) : SKIP);

/** Comma-separated, trimmed, empties dropped. */
export const csv = () => lazy(() => z.string().transform(splitCsv), splitCsv);

/** A string of at least `min` (and at most `max`) UTF-16 units; `message` for too short. */
export const text = (o: { min: number; max?: number; message?: string }) =>
  lazy(() => {
    const s = z.string().min(o.min, o.message);
    return o.max === undefined ? s : s.max(o.max);
  }, (v) => (v.length >= o.min && (o.max === undefined || v.length <= o.max) ? v : SKIP));

/** A string matching `re` (no g or y flag). */
export const matching = (re: RegExp, message?: string) =>
  lazy(() => z.string().regex(re, message), (v) => (re.test(v) ? v : SKIP));

/** A URL (`z.string().url()`). */
export const url = () => lazy(() => z.string().url(), fastUrl);

/** One of `values` (`z.enum(values)`). */
export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  lazy(() => z.enum(values), (v) => ((values as readonly string[]).includes(v) ? (v as T[number]) : SKIP));
