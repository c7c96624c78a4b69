// examples/: each supabase-js script, run with `npx tsx examples/<name>.ts` as the README says,
// against a real `npm start` (embedded PGlite) that wrote its dev.env.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../scripts/db/server.ts";
import { root } from "../scripts/lib/deno.ts";

const run = promisify(execFile);
const tsx = `${root}node_modules/.bin/tsx`;
let home: string;
let dev: ChildProcess;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), "examples-"));
  dev = spawn(tsx, ["scripts/dev.ts"], {
    cwd: root,
    env: {
      ...process.env, DATABASE_URL: "", PORT: String(await freePort()), PGLITE_PORT: String(await freePort()), LOG_LEVEL: "warn",
      DEV_DATA_DIR: join(home, "data"), DEV_ENV_FILE: join(home, "env.local"), DEV_DOTENV_FILE: join(home, "no.env"),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  dev.stdout!.on("data", (d) => (out += d));
  dev.stderr!.on("data", (d) => (out += d));
  const until = Date.now() + 90_000;
  while (!out.includes("supabase-js examples")) {
    if (dev.exitCode !== null || Date.now() > until) throw new Error(`npm start did not come up:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}, 120_000);

afterAll(async () => {
  if (dev && dev.exitCode === null) {
    const exited = new Promise((r) => dev.once("exit", r));
    dev.kill("SIGTERM");
    await exited;
  }
  rmSync(home, { recursive: true, force: true });
});

/** Run an example the documented way; only DEV_DATA_DIR says where dev.env is. */
async function example(name: string): Promise<string> {
  const env = { PATH: process.env.PATH!, HOME: home, DEV_DATA_DIR: join(home, "data") };
  const { stdout } = await run("npx", ["tsx", `examples/${name}.ts`], { cwd: root, env, timeout: 60_000 });
  return stdout;
}

describe("examples/ against npm start", () => {
  it("manage-user-secrets: save, list (GET), get, delete", async () => {
    expect(await example("manage-user-secrets")).toBe(
      'save: {"success":true}\nlist: openai_api_key_encrypted\nget: value matches\ndelete: {"success":true}\n',
    );
  }, 60_000);

  it("distributors: create, connect WhatsApp, list", async () => {
    const out = await example("distributors");
    expect(out).toMatch(/^created: Example Co \d+ as OWNER\nwhatsapp connected: \d{16}\nlisted: \d+ distributor\(s\), including the new one: true\n$/);
  }, 60_000);

  it("webhook-whatsapp: verification and a signed delivery accepted, wrong token and forged signature refused", async () => {
    expect(await example("webhook-whatsapp")).toBe(
      "verify: 200 challenge-42\nverify with a wrong token: 403\nsigned delivery: 200 {\"ok\":true}\nforged signature: 401\n",
    );
  }, 60_000);

  it("messages: an inbound message, listed with a masked preview and read back in full", async () => {
    expect(await example("messages")).toBe(
      "inbound message delivered: 200\nconversations: 1 preview: Hello, I'm [EMAIL_1]\nfirst message: Hello, I'm jane@example.com\n",
    );
  }, 60_000);

  it("fails with a clear message when no server has written dev.env", async () => {
    const env = { PATH: process.env.PATH!, HOME: home, DEV_DATA_DIR: join(home, "nothing-here") };
    const err = await run("npx", ["tsx", "examples/distributors.ts"], { cwd: root, env }).catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr).toContain("is not set: start the server with `npm start`");
  }, 60_000);
});
