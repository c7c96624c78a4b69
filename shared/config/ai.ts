// Variables of ai-respond: provider keys, base URLs, fallback order, budgets. Merged into the one schema in ./index.ts.
import type { z } from "zod";

export const aiConfig = {} satisfies z.ZodRawShape;
