// The Deno binary from the npm package `deno` (nothing is downloaded at run time).
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

export const root = fileURLToPath(new URL("../../", import.meta.url));
export const denoBin = fileURLToPath(new URL("../../node_modules/.bin/deno", import.meta.url));
export const DENO_RUN_FLAGS = ["run", "--allow-net", "--allow-env", "--allow-read", "--allow-sys", "--no-prompt"];

/** Start the local server (scripts/serve.ts) under Deno with the given environment. */
export function startDenoServer(env: Record<string, string>, stdio: "inherit" | "pipe" = "inherit"): ChildProcess & { output: () => string } {
  const child = spawn(denoBin, [...DENO_RUN_FLAGS, "scripts/serve.ts"], {
    cwd: root,
    env: { ...env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    stdio: stdio === "inherit" ? "inherit" : ["ignore", "pipe", "pipe"],
  });
  // Keep the last output of a piped server for error messages.
  let tail = "";
  const keep = (d: Buffer) => (tail = (tail + d.toString()).slice(-4000));
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return Object.assign(child, { output: () => tail });
}

/** Resolve when `url` answers (any status), or reject after `timeoutMs`. */
export async function waitForHttp(url: string, timeoutMs = 30_000, child?: ChildProcess): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child && child.exitCode !== null) {
      const out = (child as { output?: () => string }).output?.() ?? "";
      throw new Error(`server exited with code ${child.exitCode}${out ? `:\n${out}` : ""}`);
    }
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`server did not answer at ${url} within ${timeoutMs} ms`);
}
