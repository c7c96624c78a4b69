// Shared by the examples: the values a running `npm start` wrote to .data/dev.env (the real
// environment wins, so `source .data/dev.env` or your own TOKEN=… work too), and a supabase-js
// client set up the way a frontend would be against Supabase.
import { existsSync, readFileSync } from "node:fs";
import { createClient } from "@supabase/supabase-js";
import ws from "ws";

const file = `${process.env.DEV_DATA_DIR ?? new URL("../.data", import.meta.url).pathname}/dev.env`;
const fromFile: Record<string, string> = {};
if (existsSync(file)) {
  for (const m of readFileSync(file, "utf8").matchAll(/^export ([A-Z_]+)='((?:[^']|'\\'')*)'$/gm)) fromFile[m[1]] = m[2].replaceAll(`'\\''`, "'");
}

export function need(name: string): string {
  const v = process.env[name] || fromFile[name];
  if (!v) {
    console.error(`${name} is not set: start the server with \`npm start\` (it writes ${file}) or export ${name}`);
    process.exit(2);
  }
  return v;
}

/** http://127.0.0.1:54321: supabase-js adds /functions/v1 itself. */
export const API_URL = need("API_URL");
/** http://127.0.0.1:54321/functions/v1, for plain fetch. */
export const BASE = need("BASE");

export const supabase = createClient(API_URL, need("ANON_KEY"), {
  // A user access token from elsewhere (here: npm start's dev token; in an app: your sign-in).
  // Without it supabase-js would send the anon key as the bearer, which the functions refuse.
  accessToken: async () => need("TOKEN"),
  // Node 20 has no global WebSocket; supabase-js's realtime client needs one to be given.
  realtime: { transport: ws as never },
});

/** The status and body of a supabase-js error, printed instead of thrown. */
export async function explain(error: unknown): Promise<string> {
  const ctx = (error as { context?: Response }).context;
  if (ctx instanceof Response) return `HTTP ${ctx.status} ${await ctx.text()}`;
  return String(error);
}
