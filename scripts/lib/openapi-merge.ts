// One OpenAPI document for every function, built from the documents the functions serve at
// /functions/v1/<name>/openapi.json. Used by the local server (GET /openapi.json, /docs) and by
// `npm run docs:reference` (docs/reference/openapi.json). Runtime-neutral: no imports.
//
// - Paths are prefixed with /functions/v1/<name> (a function's own document is relative to its
//   server URL); the path "/" becomes /functions/v1/<name>.
// - Every operation is tagged with its function's name (one tag per function, described by the
//   function's title and description); a function's own tags are kept in `x-function-tags`.
// - Components are merged by type. Equal definitions under the same name are shared; different
//   definitions under the same name are renamed `<FunctionName><Name>` (e.g. MessagesError) and
//   every $ref (and security requirement, for security schemes) in that function is rewritten.
// - operationIds stay as they are unless two functions use the same one; then each is prefixed
//   with the function name (`messages.list`).
// - A function-level `security` is copied onto its operations that have none, since the merged
//   document's top level applies to every function.

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

export interface FunctionDocument {
  /** Function name, e.g. "messages" (its folder under functions/). */
  name: string;
  doc: JsonObject;
}

/** Title and description of the merged document (served at /openapi.json, docs/reference/openapi.json). */
export const MERGED_INFO = {
  title: "Secure edge backend: all functions",
  description:
    "Every Supabase edge function of this backend in one document. Paths are the functions' URLs " +
    "(`/functions/v1/<name>/…`) under the project URL (`npm start`: http://127.0.0.1:54321; Supabase: " +
    "https://PROJECT_REF.supabase.co). Each function is a tag; its own document is at " +
    "`/functions/v1/<name>/openapi.json`. Errors are always `{\"error\": \"<generic message>\", \"requestId\": \"…\"}`.",
};

export interface MergeOptions {
  title?: string;
  version?: string;
  description?: string;
  servers?: { url: string; description?: string }[];
}

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;
const COMPONENT_TYPES = [
  "schemas", "responses", "parameters", "examples", "requestBodies", "headers",
  "securitySchemes", "links", "callbacks", "pathItems",
] as const;

const isObject = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v));

/** Canonical JSON (sorted keys) for comparing definitions. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (isObject(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(",")}}`;
  return JSON.stringify(v);
}

/** "webhook-whatsapp" → "WebhookWhatsapp". */
export function pascal(name: string): string {
  return name.split(/[^A-Za-z0-9]+/).filter(Boolean).map((p) => p[0].toUpperCase() + p.slice(1)).join("");
}

/** The full URL path of a function's path: "/" → /functions/v1/<name>. */
export function prefixPath(name: string, path: string): string {
  return `/functions/v1/${name}${path === "/" ? "" : path}`;
}

function rewriteRefs(node: Json, renames: Map<string, string>): Json {
  if (Array.isArray(node)) return node.map((n) => rewriteRefs(n, renames));
  if (!isObject(node)) return node;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(node)) {
    out[k] = k === "$ref" && typeof v === "string" && renames.has(v) ? renames.get(v)! : rewriteRefs(v, renames);
  }
  return out;
}

function renameSecurity(security: Json | undefined, schemeRenames: Map<string, string>): Json | undefined {
  if (!Array.isArray(security)) return security;
  return security.map((req) => {
    if (!isObject(req)) return req;
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(req)) out[schemeRenames.get(k) ?? k] = v;
    return out;
  });
}

export function mergeOpenApi(fns: FunctionDocument[], opts: MergeOptions = {}): JsonObject {
  const sorted = [...fns].sort((a, b) => a.name.localeCompare(b.name));

  // 1. Which component names clash (same name, different definition) across functions?
  const definitions = new Map<string, Set<string>>(); // "<type>/<name>" → canonical bodies
  for (const { doc } of sorted) {
    const components = isObject(doc.components) ? doc.components : {};
    for (const type of COMPONENT_TYPES) {
      const group = components[type];
      if (!isObject(group)) continue;
      for (const [n, def] of Object.entries(group)) {
        const key = `${type}/${n}`;
        if (!definitions.has(key)) definitions.set(key, new Set());
        definitions.get(key)!.add(canonical(def));
      }
    }
  }
  // 2. Which operationIds are used by more than one function?
  const opIdOwners = new Map<string, Set<string>>();
  for (const { name, doc } of sorted) {
    for (const item of Object.values(isObject(doc.paths) ? doc.paths : {})) {
      if (!isObject(item)) continue;
      for (const m of METHODS) {
        const op = item[m];
        if (isObject(op) && typeof op.operationId === "string") {
          if (!opIdOwners.has(op.operationId)) opIdOwners.set(op.operationId, new Set());
          opIdOwners.get(op.operationId)!.add(name);
        }
      }
    }
  }
  const merged: JsonObject = {
    openapi: "3.1.0",
    info: {
      title: opts.title ?? "All functions",
      version: opts.version ?? "1.0.0",
      ...(opts.description ? { description: opts.description } : {}),
    },
    ...(opts.servers ? { servers: opts.servers as unknown as Json } : {}),
    tags: [],
    paths: {},
    components: {},
  };
  const tags = merged.tags as JsonObject[];
  const paths = merged.paths as JsonObject;
  const components = merged.components as JsonObject;
  const webhooks: JsonObject = {};

  for (const { name, doc: original } of sorted) {
    const doc = clone(original);
    const own = isObject(doc.components) ? doc.components : {};
    const refRenames = new Map<string, string>();
    const schemeRenames = new Map<string, string>();
    for (const type of COMPONENT_TYPES) {
      const group = own[type];
      if (!isObject(group)) continue;
      for (const n of Object.keys(group)) {
        if (definitions.get(`${type}/${n}`)!.size > 1) {
          const renamed = `${pascal(name)}${n[0].toUpperCase()}${n.slice(1)}`;
          refRenames.set(`#/components/${type}/${n}`, `#/components/${type}/${renamed}`);
          if (type === "securitySchemes") schemeRenames.set(n, renamed);
        }
      }
    }
    const fixed = rewriteRefs(doc, refRenames) as JsonObject;
    const fixedComponents = isObject(fixed.components) ? fixed.components : {};
    for (const type of COMPONENT_TYPES) {
      const group = fixedComponents[type];
      if (!isObject(group)) continue;
      for (const [n, def] of Object.entries(group)) {
        const target = (components[type] ??= {}) as JsonObject;
        const finalName = refRenames.get(`#/components/${type}/${n}`)?.split("/").pop() ?? n;
        target[finalName] = def;
      }
    }

    const info = isObject(fixed.info) ? fixed.info : {};
    const title = typeof info.title === "string" ? info.title : name;
    const description = typeof info.description === "string" ? info.description : undefined;
    tags.push({ name, description: description && title !== name ? `${title}: ${description}` : description ?? title });

    const docSecurity = renameSecurity(fixed.security, schemeRenames);
    for (const [path, item] of Object.entries(isObject(fixed.paths) ? fixed.paths : {})) {
      if (!isObject(item)) continue;
      const full = prefixPath(name, path);
      const outItem: JsonObject = {};
      for (const [k, v] of Object.entries(item)) {
        if (!(METHODS as readonly string[]).includes(k) || !isObject(v)) {
          outItem[k] = v;
          continue;
        }
        const op: JsonObject = { ...v };
        if (Array.isArray(op.tags) && op.tags.length) op["x-function-tags"] = op.tags;
        op.tags = [name];
        if (typeof op.operationId === "string") {
          const id = op.operationId;
          if ((opIdOwners.get(id)?.size ?? 0) > 1) op.operationId = `${name}.${id}`;
        }
        if (op.security !== undefined) op.security = renameSecurity(op.security, schemeRenames)!;
        else if (docSecurity !== undefined) op.security = docSecurity;
        outItem[k] = op;
      }
      paths[full] = outItem;
    }
    for (const [k, v] of Object.entries(isObject(fixed.webhooks) ? fixed.webhooks : {})) webhooks[`${name}.${k}`] = v;
  }
  if (Object.keys(webhooks).length) merged.webhooks = webhooks;
  for (const type of Object.keys(components)) {
    const group = components[type] as JsonObject;
    components[type] = Object.fromEntries(Object.keys(group).sort().map((k) => [k, group[k]]));
  }
  return merged;
}

export interface OperationSummary {
  tag: string;
  method: string;
  path: string;
  operationId?: string;
  summary?: string;
}

/** Every operation of a (merged) document, in document order. */
export function listOperations(doc: JsonObject): OperationSummary[] {
  const out: OperationSummary[] = [];
  for (const [path, item] of Object.entries(isObject(doc.paths) ? doc.paths : {})) {
    if (!isObject(item)) continue;
    for (const m of METHODS) {
      const op = item[m];
      if (!isObject(op)) continue;
      out.push({
        tag: Array.isArray(op.tags) && typeof op.tags[0] === "string" ? op.tags[0] : "",
        method: m.toUpperCase(),
        path,
        operationId: typeof op.operationId === "string" ? op.operationId : undefined,
        summary: typeof op.summary === "string" ? op.summary : undefined,
      });
    }
  }
  return out;
}
