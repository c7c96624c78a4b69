// Building blocks of the configuration schema: environment strings to typed values.
import { z } from "zod";

export const bool = z.enum(["true", "false", "1", "0", "on", "off"]).transform((v) => ["true", "1", "on"].includes(v));
export const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
export const csv = z.string().transform((v) => v.split(",").map((s) => s.trim()).filter(Boolean));
