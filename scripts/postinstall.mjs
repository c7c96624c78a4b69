// Run by npm after every install (package.json "postinstall"); plain Node, no dependencies.
//
// @asteasolutions/zod-to-openapi (imported by @hono/zod-openapi, so by every function) ships an ES
// module build, named only by its package.json "module" field, and no "exports" map. Node and
// Deno ignore "module", so they load its CommonJS "main". In Deno the first CommonJS module a
// process loads starts the CommonJS loader, ~40 ms of every function's cold start
// (docs/performance.md). Adding the "exports" map that "module" and "main" already describe makes
// `import` load the ES build and `require` the CommonJS one, as the package intends.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const file = fileURLToPath(new URL("../node_modules/@asteasolutions/zod-to-openapi/package.json", import.meta.url));
if (existsSync(file)) {
  const pkg = JSON.parse(readFileSync(file, "utf8"));
  if (!pkg.exports && pkg.module && pkg.main) {
    pkg.exports = {
      ".": { types: `./${pkg.types ?? "dist/index.d.ts"}`, import: `./${pkg.module}`, require: `./${pkg.main}` },
      "./package.json": "./package.json",
    };
    writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`);
  }
}
