// .env.local handling for local development: read it, and generate missing dev secrets.
import { existsSync, readFileSync, appendFileSync } from "node:fs";
import { randomBytes } from "node:crypto";

/** DEV_ENV_FILE overrides the location (tests use a temp file). */
export const ENV_FILE = process.env.DEV_ENV_FILE ?? new URL("../../.env.local", import.meta.url).pathname;

export function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2];
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
    out[m[1]] = v;
  }
  return out;
}

/** process.env over .env.local (the real environment wins). */
export function loadLocalEnv(): Record<string, string> {
  const file = existsSync(ENV_FILE) ? parseDotenv(readFileSync(ENV_FILE, "utf8")) : {};
  const env: Record<string, string> = { ...file };
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  return env;
}

const generators: Record<string, { comment: string; make: () => string }> = {
  SUPABASE_JWT_SECRET: { comment: "HS256 secret for development tokens", make: () => randomBytes(32).toString("base64url") },
  SECRET_MASTER_KEY: { comment: "AES-256 master key (64 hex characters)", make: () => randomBytes(32).toString("hex") },
  WHATSAPP_VERIFY_TOKEN: { comment: "token Meta echoes when verifying the webhook", make: () => randomBytes(16).toString("hex") },
  WHATSAPP_APP_SECRET: { comment: "Meta app secret used to sign webhook payloads", make: () => randomBytes(16).toString("hex") },
};

/** Generate any missing development secret into .env.local; returns the names generated. */
export function ensureDevSecrets(env: Record<string, string>): string[] {
  const made: string[] = [];
  let block = "";
  for (const [name, g] of Object.entries(generators)) {
    if (env[name] || (name === "SUPABASE_JWT_SECRET" && env.JWT_SECRET)) continue;
    env[name] = g.make();
    block += `# ${g.comment} (generated for development)\n${name}=${env[name]}\n`;
    made.push(name);
  }
  if (block) appendFileSync(ENV_FILE, (existsSync(ENV_FILE) ? "\n" : "# Local development settings: generated, git-ignored.\n") + block, { mode: 0o600 });
  return made;
}
