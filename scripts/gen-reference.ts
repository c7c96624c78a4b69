// `npm run docs:reference`: the per-function API reference, generated from the OpenAPI documents
// the functions serve (never written by hand). Writes
//   docs/reference/<name>.md      operations, parameters, bodies, responses, schemas
//   docs/reference/openapi.json   the merged document (the one `npm start` serves at /openapi.json)
//   docs/reference/README.md      the index
// Each functions/<name>/app.ts is built with placeholder configuration and asked for
// /functions/v1/<name>/openapi.json; building an app opens no database connection.
// `npm run docs:reference -- --check` writes nothing and exits 1 when docs/reference is stale.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { listOperations, MERGED_INFO, mergeOpenApi, type FunctionDocument, type Json, type JsonObject } from "./lib/openapi-merge.ts";

const root = fileURLToPath(new URL("../", import.meta.url));
export const referenceDir = `${root}docs/reference/`;

/** Placeholder configuration: enough for createApp(); never used to connect anywhere. */
export const DOCS_ENV: Record<string, string> = {
  DATABASE_URL: "postgres://docs@127.0.0.1:9/docs",
  SUPABASE_JWT_SECRET: "docs-only-placeholder-secret-000000000000",
  SECRET_MASTER_KEY: "0".repeat(64),
  WHATSAPP_VERIFY_TOKEN: "docs-only-placeholder",
  WHATSAPP_APP_SECRET: "docs-only-placeholder",
  CORS_ALLOWED_ORIGINS: "http://localhost:3000",
  LOG_LEVEL: "silent",
};

export function functionNames(): string[] {
  return readdirSync(`${root}functions`, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(`${root}functions/${e.name}/app.ts`))
    .map((e) => e.name)
    .sort();
}

/** Each function's own OpenAPI document, as its app serves it. */
export async function functionDocuments(): Promise<FunctionDocument[]> {
  const { depsFromEnv } = await import("../shared/runtime/deps.ts");
  const deps = await depsFromEnv(DOCS_ENV);
  try {
    const out: FunctionDocument[] = [];
    for (const name of functionNames()) {
      const mod = await import(pathToFileURL(`${root}functions/${name}/app.ts`).href) as {
        createApp: (d: typeof deps) => { fetch: (r: Request) => Response | Promise<Response> };
      };
      const res = await mod.createApp(deps).fetch(new Request(`http://docs.local/functions/v1/${name}/openapi.json`));
      if (res.status !== 200) throw new Error(`${name}: /openapi.json answered ${res.status}`);
      out.push({ name, doc: await res.json() as JsonObject });
    }
    return out;
  } finally {
    await deps.db.end();
  }
}

export function version(): string {
  return (JSON.parse(readFileSync(`${root}package.json`, "utf8")) as { version: string }).version;
}

// ---------------------------------------------------------------------------------------------
// Markdown

const isObject = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
const anchor = (schema: string) => `schema-${schema.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
const refName = (ref: string) => ref.split("/").pop()!;

function typeOf(s: Json | undefined, depth = 0): string {
  if (!isObject(s)) return "any";
  if (typeof s.$ref === "string") return `[${refName(s.$ref)}](#${anchor(refName(s.$ref))})`;
  if (Array.isArray(s.enum)) return s.enum.map((v) => `\`${JSON.stringify(v)}\``).join(" | ");
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  for (const k of ["anyOf", "oneOf"] as const) {
    if (Array.isArray(s[k])) return (s[k] as Json[]).map((x) => typeOf(x, depth)).join(" | ");
  }
  if (Array.isArray(s.allOf)) return (s.allOf as Json[]).map((x) => typeOf(x, depth)).join(" & ");
  const types = Array.isArray(s.type) ? s.type as string[] : typeof s.type === "string" ? [s.type] : [];
  if (!types.length) return isObject(s.properties) ? objectType(s, depth) : "any";
  return types.map((t) => {
    if (t === "array") {
      const inner = typeOf(s.items, depth);
      return inner.includes(" ") && !inner.startsWith("{") ? `(${inner})[]` : `${inner}[]`;
    }
    if (t === "object") return objectType(s, depth);
    if (t === "string" && typeof s.format === "string") return `string (${s.format})`;
    return t;
  }).join(" | ");
}

function objectType(s: JsonObject, depth: number): string {
  if (isObject(s.properties) && Object.keys(s.properties).length && depth < 2) {
    const req = new Set(Array.isArray(s.required) ? s.required as string[] : []);
    return `{ ${Object.entries(s.properties).map(([k, v]) => `${k}${req.has(k) ? "" : "?"}: ${typeOf(v, depth + 1)}`).join(", ")} }`;
  }
  if (isObject(s.additionalProperties) && Object.keys(s.additionalProperties).length) {
    return `object (values: ${typeOf(s.additionalProperties, depth + 1)})`;
  }
  return "object";
}

function notes(s: Json | undefined): string {
  if (!isObject(s)) return "";
  const parts: string[] = [];
  if (typeof s.description === "string") parts.push(s.description);
  const c: [string, string][] = [
    ["minLength", "min length"], ["maxLength", "max length"], ["minimum", "≥"], ["maximum", "≤"],
    ["exclusiveMinimum", ">"], ["exclusiveMaximum", "<"], ["minItems", "min items"], ["maxItems", "max items"],
    ["pattern", "pattern"], ["default", "default"],
  ];
  for (const [k, label] of c) if (s[k] !== undefined) parts.push(`${label} \`${typeof s[k] === "string" && k !== "default" ? s[k] : JSON.stringify(s[k])}\``);
  if (s.example !== undefined) parts.push(`example \`${JSON.stringify(s.example)}\``);
  return parts.join("; ");
}

function collectRefs(node: Json | undefined, into: Set<string>, schemas: JsonObject): void {
  if (Array.isArray(node)) return node.forEach((n) => collectRefs(n, into, schemas));
  if (!isObject(node)) return;
  for (const [k, v] of Object.entries(node)) {
    if (k === "$ref" && typeof v === "string" && v.startsWith("#/components/schemas/")) {
      const n = refName(v);
      if (!into.has(n)) {
        into.add(n);
        collectRefs(schemas[n], into, schemas);
      }
    } else collectRefs(v, into, schemas);
  }
}

function authOf(op: JsonObject, schemes: JsonObject): string {
  if (!Array.isArray(op.security)) return "none declared";
  if (!op.security.length || op.security.every((r) => isObject(r) && !Object.keys(r).length)) return "none (public)";
  return op.security.map((req) => Object.keys(req as JsonObject).map((n) => {
    const s = schemes[n];
    const kind = isObject(s) ? (s.scheme === "bearer" ? `bearer token${typeof s.bearerFormat === "string" ? ` (${s.bearerFormat})` : ""}` : String(s.type ?? n)) : n;
    return `${kind} — \`${n}\``;
  }).join(" and ")).join(", or ");
}

function propertyTable(s: JsonObject): string[] {
  const req = new Set(Array.isArray(s.required) ? s.required as string[] : []);
  const lines = ["| property | type | required | notes |", "| --- | --- | --- | --- |"];
  for (const [k, v] of Object.entries(s.properties as JsonObject)) {
    lines.push(`| \`${k}\` | ${cell(typeOf(v, 1))} | ${req.has(k) ? "yes" : "no"} | ${cell(notes(v))} |`);
  }
  return lines;
}

function contentLines(content: Json | undefined): string[] {
  if (!isObject(content)) return [];
  return Object.entries(content).map(([type, media]) => `\`${type}\`: ${typeOf(isObject(media) ? media.schema : undefined)}`);
}

export function renderFunction(name: string, merged: JsonObject): string {
  const components = isObject(merged.components) ? merged.components : {};
  const schemas = isObject(components.schemas) ? components.schemas : {};
  const schemes = isObject(components.securitySchemes) ? components.securitySchemes : {};
  const tag = (merged.tags as JsonObject[]).find((t) => t.name === name);
  const out: string[] = [
    `# \`${name}\``,
    "",
    "<!-- Generated by `npm run docs:reference` from the function's OpenAPI document. Do not edit. -->",
    "",
  ];
  if (tag && typeof tag.description === "string") out.push(tag.description, "");
  out.push(
    `Its own document: \`GET /functions/v1/${name}/openapi.json\`. All functions: [openapi.json](openapi.json), ` +
      "or the page `/docs` of `npm start`. Every error answers `{\"error\": \"<generic message>\", \"requestId\": \"…\"}`.",
    "",
  );
  const ops = listOperations(merged).filter((o) => o.tag === name);
  out.push("| method | path | summary |", "| --- | --- | --- |");
  for (const o of ops) out.push(`| ${o.method} | [\`${o.path}\`](#${slugOp(o.method, o.path)}) | ${cell(o.summary ?? "")} |`);
  out.push("");

  const used = new Set<string>();
  for (const o of ops) {
    const item = (merged.paths as JsonObject)[o.path] as JsonObject;
    const op = item[o.method.toLowerCase()] as JsonObject;
    collectRefs(op, used, schemas);
    collectRefs(item.parameters, used, schemas);
    out.push(`<a id="${slugOp(o.method, o.path)}"></a>`, `## ${o.method} \`${o.path}\``, "");
    if (typeof op.summary === "string") out.push(op.summary, "");
    if (typeof op.description === "string") out.push(op.description, "");
    if (o.operationId) out.push(`- operationId: \`${o.operationId}\``);
    out.push(`- authentication: ${authOf(op, schemes)}`);
    if (Array.isArray(op["x-function-tags"])) out.push(`- group: ${(op["x-function-tags"] as string[]).join(", ")}`);
    if (op.deprecated === true) out.push("- **deprecated**");
    out.push("");
    const params = [...(Array.isArray(item.parameters) ? item.parameters : []), ...(Array.isArray(op.parameters) ? op.parameters : [])]
      .filter(isObject);
    if (params.length) {
      out.push("**Parameters**", "", "| name | in | type | required | notes |", "| --- | --- | --- | --- | --- |");
      for (const p of params) {
        const n = notes(p.schema);
        const d = typeof p.description === "string" && !n.includes(p.description) ? [p.description, n].filter(Boolean).join("; ") : n;
        out.push(`| \`${p.name}\` | ${p.in} | ${cell(typeOf(p.schema))} | ${p.required === true ? "yes" : "no"} | ${cell(d)} |`);
      }
      out.push("");
    }
    if (isObject(op.requestBody)) {
      const rb = op.requestBody;
      out.push(`**Request body**${rb.required === true ? " (required)" : ""}${typeof rb.description === "string" ? `: ${rb.description}` : ""}`, "");
      for (const line of contentLines(rb.content)) out.push(`- ${line}`);
      out.push("");
      for (const media of Object.values(isObject(rb.content) ? rb.content : {})) {
        const s = isObject(media) ? media.schema : undefined;
        if (isObject(s) && isObject(s.properties) && Object.keys(s.properties).length) out.push(...propertyTable(s), "");
      }
    }
    if (isObject(op.responses)) {
      out.push("**Responses**", "", "| status | description | body |", "| --- | --- | --- |");
      const headers: string[] = [];
      for (const [status, r] of Object.entries(op.responses)) {
        if (!isObject(r)) continue;
        out.push(`| ${status} | ${cell(typeof r.description === "string" ? r.description : "")} | ${cell(contentLines(r.content).join("; "))} |`);
        for (const [h, hv] of Object.entries(isObject(r.headers) ? r.headers : {})) {
          const hs = isObject(hv) ? hv : {};
          headers.push(`- ${status}: \`${h}\` (${typeOf(hs.schema)})${typeof hs.description === "string" ? ` — ${hs.description}` : ""}`);
        }
      }
      out.push("");
      if (headers.length) out.push("Response headers:", "", ...headers, "");
    }
  }

  if (used.size) {
    out.push("## Schemas", "");
    for (const n of [...used].sort()) {
      const s = schemas[n];
      out.push(`<a id="${anchor(n)}"></a>`, `### ${n}`, "");
      if (!isObject(s)) continue;
      if (typeof s.description === "string") out.push(s.description, "");
      if (isObject(s.properties) && Object.keys(s.properties).length) out.push(...propertyTable(s), "");
      else out.push(`${typeOf({ ...s, description: undefined } as unknown as Json, 0)}${notes({ ...s, description: null }) ? ` — ${notes({ ...s, description: null })}` : ""}`, "");
    }
  }
  return out.join("\n").replace(/\n{3,}/g, "\n\n").trimEnd() + "\n";
}

function slugOp(method: string, path: string): string {
  return `${method}-${path}`.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
}

function renderIndex(merged: JsonObject): string {
  const ops = listOperations(merged);
  const out = [
    "# API reference",
    "",
    "<!-- Generated by `npm run docs:reference` from the functions' OpenAPI documents. Do not edit. -->",
    "",
    "One page per function, generated from the OpenAPI document it serves at `/functions/v1/<name>/openapi.json`;",
    "[openapi.json](openapi.json) merges them all (the document behind the `/docs` page of `npm start`).",
    "Regenerate with `npm run docs:reference`; `npm test` fails when these files are stale.",
    "",
    "| function | operations | description |",
    "| --- | ---: | --- |",
  ];
  for (const t of merged.tags as JsonObject[]) {
    const name = String(t.name);
    out.push(`| [${name}](${name}.md) | ${ops.filter((o) => o.tag === name).length} | ${cell(String(t.description ?? ""))} |`);
  }
  return out.join("\n") + "\n";
}

/** Every file of docs/reference/, by file name, as `npm run docs:reference` writes it. */
export async function buildReference(docs?: FunctionDocument[]): Promise<Map<string, string>> {
  const fns = docs ?? await functionDocuments();
  const merged = mergeOpenApi(fns, { ...MERGED_INFO, version: version() });
  const files = new Map<string, string>();
  files.set("openapi.json", JSON.stringify(merged, null, 2) + "\n");
  files.set("README.md", renderIndex(merged));
  for (const { name } of fns) files.set(`${name}.md`, renderFunction(name, merged));
  return files;
}

/** Names of files in docs/reference/ that differ from (or are missing in, or extra to) `files`. */
export function staleFiles(files: Map<string, string>): string[] {
  const present = existsSync(referenceDir) ? readdirSync(referenceDir) : [];
  const stale = [...files].filter(([f, text]) => !present.includes(f) || readFileSync(referenceDir + f, "utf8") !== text).map(([f]) => f);
  return [...stale, ...present.filter((f) => !files.has(f))].sort();
}

async function main() {
  const files = await buildReference();
  if (process.argv.includes("--check")) {
    const stale = staleFiles(files);
    if (stale.length) {
      console.error(`docs/reference is stale (${stale.join(", ")}): run npm run docs:reference`);
      process.exit(1);
    }
    console.log("docs/reference is up to date");
    return;
  }
  mkdirSync(referenceDir, { recursive: true });
  for (const f of readdirSync(referenceDir)) if (!files.has(f)) rmSync(referenceDir + f);
  for (const [f, text] of files) writeFileSync(referenceDir + f, text);
  console.log(`wrote docs/reference/{${[...files.keys()].join(",")}}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(`[docs:reference] ${(err as Error).stack ?? err}`);
    process.exit(1);
  });
}
