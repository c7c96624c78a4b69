// Cold start (issue 10): in Deno the first CommonJS module a process loads costs a function's
// start 10–40 ms (the CommonJS loader and what it pulls in), so no function may load one before
// it answers. The CommonJS packages we use (ipaddr.js, standardwebhooks) are imported where they
// are needed; zod-to-openapi loads its ES build (scripts/postinstall.mjs).
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { denoBin, root } from "../scripts/lib/deno.ts";
import { testEnv } from "./support/harness.ts";

const functions = readdirSync(`${root}functions`, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);

function commonJsAtStart(fn: string, env: Record<string, string>): string[] {
  const res = spawnSync(denoBin, ["run", "-A", "--no-prompt", "tests/support/commonjs-probe.ts", fn], {
    cwd: root, env: { ...process.env, ...env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" }, encoding: "utf8", timeout: 60_000,
  });
  if (res.status !== 0) throw new Error(`${fn}: probe exited ${res.status}: ${res.stderr.slice(-2000)}`);
  return JSON.parse(res.stdout.trim().split("\n").pop()!) as string[];
}

describe("cold start: no CommonJS module before the first request", () => {
  it.each(functions)("%s", (fn) => {
    expect(commonJsAtStart(fn, testEnv())).toEqual([]);
  });

  it("the probe sees CommonJS: trusted IPs configured load ipaddr.js at start", () => {
    const loaded = commonJsAtStart("distributors", testEnv({ SECURITY_TRUSTED_IPS: "10.0.0.0/8" }));
    expect(loaded.map((f) => f.replace(/^.*node_modules\//, ""))).toEqual(["ipaddr.js/lib/ipaddr.js"]);
  });
});
