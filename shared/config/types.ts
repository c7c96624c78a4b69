// Building blocks of the configuration schema: environment strings to typed values.
//
// A variable is declared as `lazy(() => <zod schema>)`, then `.optional()` or `.default(value)`
// as on a zod schema. Its zod schema is built only when needed: when the variable is set, or to
// report an error (./index.ts). An unset variable costs nothing at start-up: its default (or
// its absence) is known without zod. Building all ~110 schemas at import and parsing them as
// one object cost a cold start ~10 ms (docs/performance.md, cold start).
import { z } from "zod";

/** What an unset variable becomes, as the zod object would decide it. */
export type Absent =
  | { kind: "required" }
  | { kind: "optional" }
  | { kind: "default"; value: unknown };

/** One environment variable: its zod schema (built once, on first use) and its unset behaviour. */
export interface Var<S extends z.ZodType = z.ZodType> {
  readonly schema: () => S;
  readonly absent: Absent;
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

export function lazy<S extends z.ZodType>(build: () => S): LazyVar<S> {
  const schema = once(build);
  return {
    schema,
    absent: { kind: "required" },
    optional: () => ({ schema: once(() => schema().optional()), absent: { kind: "optional" } }),
    default: (value) => ({
      schema: once(() => schema().default(value as never) as z.ZodDefault<S>),
      absent: { kind: "default", value },
    }),
  };
}

/** A shape of variables (one fragment, or all of them). */
export type VarShape = Record<string, Var>;

/** The zod object schema a shape stands for (the types of the parsed configuration). */
export type SchemaOf<T extends VarShape> = z.ZodObject<{ [K in keyof T]: ReturnType<T[K]["schema"]> }>;

export const bool = () => z.enum(["true", "false", "1", "0", "on", "off"]).transform((v) => ["true", "1", "on"].includes(v));
export const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
export const csv = () => z.string().transform((v) => v.split(",").map((s) => s.trim()).filter(Boolean));
