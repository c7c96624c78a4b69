// Local development settings: .env and .env.local (read), generated dev secrets (written into
// .env.local), the lock on the data directory, and the `source`-able file `npm start` writes.
import { existsSync, readFileSync, appendFileSync, writeFileSync, renameSync, chmodSync, unlinkSync, mkdirSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";

const repoRoot = new URL("../../", import.meta.url).pathname;

/** DEV_ENV_FILE overrides the location (tests use a temp file). */
export const ENV_FILE = process.env.DEV_ENV_FILE ?? join(repoRoot, ".env.local");
/** `.env`, read as Supabase and Vite users expect; DEV_DOTENV_FILE overrides it (tests). */
export const DOTENV_FILE = process.env.DEV_DOTENV_FILE ?? join(repoRoot, ".env");

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

const readIfExists = (file: string) => (existsSync(file) ? parseDotenv(readFileSync(file, "utf8")) : {});

/**
 * The real environment over .env.local over .env. Empty values in a file count as unset, so the
 * blank lines copied from .env.example (`DATABASE_URL=`) do not hide a value in the other file.
 */
export function loadLocalEnv(
  files: { dotenv?: string; local?: string } = {},
  processEnv: Record<string, string | undefined> = process.env,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const layer of [readIfExists(files.dotenv ?? DOTENV_FILE), readIfExists(files.local ?? ENV_FILE)]) {
    for (const [k, v] of Object.entries(layer)) if (v !== "") env[k] = v;
  }
  for (const [k, v] of Object.entries(processEnv)) if (v !== undefined) env[k] = v;
  return env;
}

const generators: Record<string, { comment: string; make: () => string }> = {
  SUPABASE_JWT_SECRET: { comment: "HS256 secret for development tokens", make: () => randomBytes(32).toString("base64url") },
  SECRET_MASTER_KEY: { comment: "AES-256 master key (64 hex characters)", make: () => randomBytes(32).toString("hex") },
  WHATSAPP_VERIFY_TOKEN: { comment: "token Meta echoes when verifying the webhook", make: () => randomBytes(16).toString("hex") },
  WHATSAPP_APP_SECRET: { comment: "Meta app secret used to sign webhook payloads", make: () => randomBytes(16).toString("hex") },
  CRON_SECRET: { comment: "bearer secret of the scheduled functions (retention-cleanup, webhook-deliver)", make: () => randomBytes(32).toString("base64url") },
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

/** `.data/` (embedded database, lock, dev.env); DEV_DATA_DIR moves it (tests, a second checkout). */
export function devDataDir(env: Record<string, string | undefined> = process.env): string {
  return env.DEV_DATA_DIR || join(repoRoot, ".data");
}

/** The file `npm start` writes for `source`: TOKEN, BASE, ANON_KEY, the webhook secrets. */
export const devEnvFile = (dataDir: string) => join(dataDir, "dev.env");

const shellQuote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;

/** Write `export NAME='value'` lines, readable by the owner only (it holds a token and secrets). */
export function writeSourceableEnv(file: string, header: string, vars: Record<string, string>): void {
  const body = `${header.split("\n").map((l) => `# ${l}`).join("\n")}\n` +
    Object.entries(vars).map(([k, v]) => `export ${k}=${shellQuote(v)}`).join("\n") + "\n";
  // Written aside and renamed: a shell sourcing it never sees half a file.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, body, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

export class LockHeld extends Error {
  constructor(public readonly pid: number, public readonly lockFile: string) {
    super(`another \`npm start\` (pid ${pid}) is using ${lockFile.replace(/\/[^/]+$/, "/")}; stop it first ` +
      `(or give this one its own DEV_DATA_DIR). If pid ${pid} is not \`npm start\`, delete ${lockFile}.`);
    this.name = "LockHeld";
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by someone else
  }
}

/**
 * One server per data directory: PGlite is a single-process database, and two servers on the
 * same files lose each other's writes. The lock file holds the owner's pid; a lock whose pid is
 * dead (a crash, kill -9) is taken over. Returns the release function (also run on exit).
 */
export function lockDataDir(dataDir: string, pid = process.pid): () => void {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, "dev.lock");
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(file, `${pid}\n`, { flag: "wx" }); // atomic create-if-absent
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || attempt >= 3) throw err;
      const owner = Number.parseInt(readFileSync(file, "utf8"), 10);
      if (Number.isInteger(owner) && owner > 0 && owner !== pid && alive(owner)) throw new LockHeld(owner, file);
      try { unlinkSync(file); } catch { /* another process took it over first: retry */ }
    }
  }
  const release = () => {
    process.off("exit", release);
    try {
      if (Number.parseInt(readFileSync(file, "utf8"), 10) === pid) unlinkSync(file);
    } catch { /* already gone */ }
  };
  process.on("exit", release);
  return release;
}
