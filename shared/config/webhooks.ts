// Variables of webhooks, webhook-deliver and security monitoring. Merged into the one schema in ./index.ts.
import type { z } from "zod";

export const webhooksConfig = {} satisfies z.ZodRawShape;
