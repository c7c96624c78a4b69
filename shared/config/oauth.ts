// Variables of oauth-callback and social-post: client credentials, URLs, allowed return URLs. Merged into the one schema in ./index.ts.
import type { z } from "zod";

export const oauthConfig = {} satisfies z.ZodRawShape;
