// Run by tests/cold-start-modules.test.ts under Deno: start one function the way its index.ts
// does (configuration, deps, createApp) and print the CommonJS files that loaded, as JSON.
// Deno runs CommonJS through node:module, so its compile step sees every such file.
import Module from "node:module";

declare const Deno: { args: string[]; env: { toObject(): Record<string, string> } };

const loaded: string[] = [];
const proto = (Module as unknown as { prototype: { _compile: (...a: unknown[]) => unknown } }).prototype;
const compile = proto._compile;
proto._compile = function (this: { filename: string }, ...args: unknown[]) {
  loaded.push(this.filename);
  return compile.apply(this, args);
};

const { depsFromEnv } = await import("../../shared/runtime/deps.ts");
const { createApp } = await import(`../../functions/${Deno.args[0]}/app.ts`);
const deps = await depsFromEnv(Deno.env.toObject());
createApp(deps);
await deps.db.sql.end();
console.log(JSON.stringify(loaded));
