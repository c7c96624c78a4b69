// Deploy readiness: every bare import of functions/ and shared/ is mapped by deno.json to an
// `npm:` specifier with the exact version in package-lock.json, and each entrypoint's module graph
// resolves from deno.json alone (a copy of functions/, shared/ and deno.json, with no node_modules,
// no package.json and an empty DENO_DIR), downloading from the npm registry when it is reachable.
// See docs/deploy.md ("What is verified").
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { denoBin, root } from "../scripts/lib/deno.ts";

type DenoJson = { imports: Record<string, string>; nodeModulesDir?: string };
const denoJson = JSON.parse(readFileSync(`${root}deno.json`, "utf8")) as DenoJson;
const lock = JSON.parse(readFileSync(`${root}package-lock.json`, "utf8")) as { packages: Record<string, { version: string }> };
const pkg = JSON.parse(readFileSync(`${root}package.json`, "utf8")) as { dependencies: Record<string, string> };

const entrypoints = readdirSync(`${root}functions`)
  .filter((f) => existsSync(`${root}functions/${f}/index.ts`))
  .map((f) => `functions/${f}/index.ts`)
  .sort();

/** `npm:hono@4.13.19` / `npm:/hono@4.13.19/` → { name, version }. */
function parseNpm(target: string): { name: string; version: string } | null {
  const m = /^npm:\/?((?:@[^/@]+\/)?[^/@]+)@([^/]+)\/?$/.exec(target);
  return m ? { name: m[1], version: m[2] } : null;
}

/** The deno.json target of a bare specifier: exact key, else the longest "prefix/" key. */
function mapped(specifier: string): string | undefined {
  if (denoJson.imports[specifier]) return denoJson.imports[specifier];
  const prefix = Object.keys(denoJson.imports).filter((k) => k.endsWith("/") && specifier.startsWith(k)).sort((a, b) => b.length - a.length)[0];
  return prefix ? denoJson.imports[prefix] + specifier.slice(prefix.length) : undefined;
}

const isBare = (s: string) => !/^(\.{0,2}\/|[a-z][a-z0-9+.-]*:)/i.test(s);
const packageOf = (s: string) => s.startsWith("@") ? s.split("/").slice(0, 2).join("/") : s.split("/")[0];

function sourceFiles(dir: string): string[] {
  return readdirSync(`${root}${dir}`).flatMap((f) => {
    const rel = `${dir}/${f}`;
    if (statSync(`${root}${rel}`).isDirectory()) return sourceFiles(rel);
    return /\.(ts|tsx|js|mjs)$/.test(f) && !/\.test\.ts$/.test(f) ? [rel] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(`${root}${file}`, "utf8");
  const re = /(?:^|[\s;])(?:import|export)\s(?:[^'";]*?\sfrom\s*)?["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;
  return [...text.matchAll(re)].map((m) => m[1] ?? m[2]);
}

function deno(args: string[], cwd: string, env: Record<string, string> = {}) {
  return spawnSync(denoBin, args, {
    cwd,
    encoding: "utf8",
    timeout: 240_000,
    env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1", ...env },
  });
}

describe("deno.json import map", () => {
  it("maps every entry to npm:<name>@<the exact version in package-lock.json>", () => {
    expect(Object.keys(denoJson.imports).length).toBeGreaterThan(0);
    for (const [key, target] of Object.entries(denoJson.imports)) {
      const p = parseNpm(target);
      expect(p, `${key} → ${target} is an npm: specifier with an exact version`).not.toBeNull();
      expect(key === p!.name || key === `${p!.name}/`, `${key} names ${p!.name}`).toBe(true);
      expect(key.endsWith("/") ? target.startsWith("npm:/") && target.endsWith("/") : !target.endsWith("/"), key).toBe(true);
      expect(p!.version, `${p!.name}: deno.json and package-lock.json agree`).toBe(lock.packages[`node_modules/${p!.name}`]?.version);
    }
  });

  it("maps every runtime dependency of package.json", () => {
    for (const name of Object.keys(pkg.dependencies)) expect(denoJson.imports[name], name).toBeDefined();
  });

  it("maps every bare import in functions/ and shared/ (and scripts/serve.ts), to a runtime dependency", () => {
    const files = [...sourceFiles("functions"), ...sourceFiles("shared"), "scripts/serve.ts"];
    const bare = new Set<string>();
    for (const f of files) for (const s of importsOf(f)) if (isBare(s)) bare.add(s);
    expect(bare.size).toBeGreaterThan(3); // the scan found the imports (hono, zod, jose, postgres, …)
    for (const s of bare) {
      const target = mapped(s);
      expect(target, `${s} has no mapping in deno.json "imports"`).toBeDefined();
      expect(pkg.dependencies[packageOf(s)], `${packageOf(s)} is a runtime dependency in package.json`).toBeDefined();
    }
    // Nothing imports an npm:/jsr:/http: URL directly (versions live in deno.json only).
    for (const f of files) for (const s of importsOf(f)) expect(/^(npm|jsr|https?):/.test(s), `${f} imports ${s}`).toBe(false);
  });

  it("keeps local runs on node_modules (offline): the graph resolves npm: specifiers to node_modules files", () => {
    expect(denoJson.nodeModulesDir).toBe("manual");
    const r = deno(["info", "--json", entrypoints[0]], root, { NPM_CONFIG_REGISTRY: "http://127.0.0.1:9/", DENO_DIR: mkdtempSync(join(tmpdir(), "deno-dir-")) });
    expect(r.status, r.stderr).toBe(0);
    const graph = JSON.parse(r.stdout) as { modules: { specifier: string; dependencies?: { specifier: string; code?: { specifier: string } }[] }[] };
    const resolved = graph.modules.flatMap((m) => m.dependencies ?? []).filter((d) => isBare(d.specifier) && d.code?.specifier);
    expect(resolved.length).toBeGreaterThan(0);
    for (const d of resolved) expect(d.code!.specifier, d.specifier).toContain("/node_modules/");
  });
});

describe("supabase/config.toml", () => {
  it("declares every function with its entrypoint and ../deno.json as import map", () => {
    const toml = readFileSync(`${root}supabase/config.toml`, "utf8");
    const sections = [...toml.matchAll(/^\[functions\.([a-z0-9-]+)\]\n((?:(?!\[).*\n?)*)/gm)].map((m) => ({ name: m[1], body: m[2] }));
    expect(sections.map((s) => `functions/${s.name}/index.ts`).sort()).toEqual(entrypoints);
    for (const s of sections) {
      expect(s.body, s.name).toContain(`entrypoint = "../functions/${s.name}/index.ts"`);
      expect(s.body, s.name).toContain('import_map = "../deno.json"');
    }
  });
});

describe("each entrypoint's module graph from deno.json alone", () => {
  it("resolves (and type-checks) in a copy with no node_modules, or is verified statically when the registry is unreachable", async () => {
    const registry = (process.env.NPM_CONFIG_REGISTRY ?? "https://registry.npmjs.org/").replace(/\/?$/, "/");
    const reachable = await fetch(`${registry}hono`, { signal: AbortSignal.timeout(8000), headers: { accept: "application/vnd.npm.install-v1+json" } })
      .then((r) => r.ok, () => false);

    const dir = mkdtempSync(join(tmpdir(), "deploy-graph-"));
    try {
      cpSync(`${root}functions`, `${dir}/functions`, { recursive: true });
      cpSync(`${root}shared`, `${dir}/shared`, { recursive: true });
      // deno.json as the deployment reads it, without the local-only node_modules setting.
      const { nodeModulesDir: _local, ...deployed } = denoJson;
      writeFileSync(`${dir}/deno.json`, JSON.stringify(deployed, null, 2));
      expect(existsSync(`${dir}/node_modules`) || existsSync(`${dir}/package.json`)).toBe(false);
      const env = { DENO_DIR: `${dir}/.deno-dir`, NPM_CONFIG_REGISTRY: registry };

      if (!reachable) {
        // Static: every bare specifier of every module in the copy is mapped to the lock's version.
        console.warn(`[deploy.test] ${registry} unreachable: verified deno.json statically only`);
        for (const f of [...sourceFiles("functions"), ...sourceFiles("shared")]) {
          for (const s of importsOf(f).filter(isBare)) {
            const p = parseNpm(mapped(s)!.replace(/^(npm:\/?(?:@[^/@]+\/)?[^/@]+@[^/]+).*$/, "$1"));
            expect(p?.version, s).toBe(lock.packages[`node_modules/${packageOf(s)}`]?.version);
          }
        }
        return;
      }
      for (const entry of entrypoints) {
        const r = deno(["info", "--json", entry], dir, env);
        expect(r.status, `${entry}: ${r.stderr}`).toBe(0);
        const info = JSON.parse(r.stdout) as { modules: { specifier: string; error?: string }[]; npmPackages?: Record<string, unknown> };
        const errors = info.modules.filter((m) => m.error).map((m) => `${m.specifier}: ${m.error}`);
        expect(errors, entry).toEqual([]);
        expect(info.modules.some((m) => m.specifier.includes("/node_modules/"))).toBe(false);
        // The npm packages the graph resolved: every direct dependency at the lock's exact version.
        const resolved = Object.keys(info.npmPackages ?? {}).map((k) => k.split("_")[0]);
        for (const k of resolved) {
          const at = k.lastIndexOf("@");
          const [name, version] = [k.slice(0, at), k.slice(at + 1)];
          const locked = lock.packages[`node_modules/${name}`]?.version;
          if (pkg.dependencies[name]) expect(version, `${entry}: ${name}`).toBe(locked);
          else if (version !== locked) console.warn(`[deploy.test] ${entry}: transitive ${name}@${version} (package-lock.json: ${locked})`);
        }
        expect(resolved.some((k) => k.startsWith("hono@"))).toBe(true);
      }
      // Type-check every entrypoint against the downloaded packages, as the bundler will see them.
      const check = deno(["check", ...entrypoints], dir, env);
      expect(check.status, check.stderr.slice(-3000)).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
