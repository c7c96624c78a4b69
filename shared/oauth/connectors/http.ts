// One call to a connector's API: its own timeout, one retry on 5xx or a network failure, and
// the answers social-post gives for what the provider said: 401 → ProviderUnauthorized (the
// caller refreshes once, then 409), 429 → 429 with Retry-After, 5xx/network twice → 502.
// Nothing of the provider's body is logged or passed on.
import { z } from "zod";
import { ApiError } from "../../http/errors.ts";

export class ProviderUnauthorized extends Error {
  constructor() {
    super("provider answered 401");
    this.name = "ProviderUnauthorized";
  }
}

export interface ApiContext {
  baseUrl: string;
  token: string;
  fetch: typeof fetch;
  timeoutMs: number;
}

export interface ApiRequest {
  method: "GET" | "POST";
  path: string;
  query?: Record<string, string>;
  /** Bearer (Authorization header) or none (the adapter put the token in the query or body). */
  bearer: boolean;
  json?: unknown;
  form?: URLSearchParams;
}

/** Whether a failed attempt is worth the one retry: a 5xx, or no answer at all. */
export function shouldRetry(outcome: { status?: number; networkError?: boolean }): boolean {
  return outcome.networkError === true || (outcome.status !== undefined && outcome.status >= 500);
}

export async function callApi<S extends z.ZodType>(ctx: ApiContext, req: ApiRequest, schema: S): Promise<z.infer<S>> {
  const url = new URL(ctx.baseUrl.replace(/\/+$/, "") + req.path);
  for (const [k, v] of Object.entries(req.query ?? {})) url.searchParams.set(k, v);
  const headers: Record<string, string> = { accept: "application/json" };
  if (req.bearer) headers.authorization = `Bearer ${ctx.token}`;
  let body: string | undefined;
  if (req.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(req.json);
  } else if (req.form) {
    headers["content-type"] = "application/x-www-form-urlencoded";
    body = req.form.toString();
  }
  for (let attempt = 1; ; attempt++) {
    let res: Response;
    try {
      res = await ctx.fetch(url, { method: req.method, headers, body, redirect: "error", signal: AbortSignal.timeout(ctx.timeoutMs) });
    } catch {
      if (attempt < 2) continue;
      throw new ApiError("upstream", {}, "provider unreachable");
    }
    if (res.ok) {
      const parsed = schema.safeParse(await res.json().catch(() => undefined));
      if (!parsed.success) throw new ApiError("upstream", {}, "provider answer malformed");
      return parsed.data;
    }
    await res.body?.cancel().catch(() => {});
    if (res.status === 401) throw new ProviderUnauthorized();
    if (res.status === 429) {
      const after = Number(res.headers.get("retry-after"));
      const seconds = Number.isFinite(after) && after > 0 ? Math.min(Math.ceil(after), 3600) : 60;
      throw new ApiError("rate_limited", { "Retry-After": String(seconds) }, "provider rate limit");
    }
    if (shouldRetry({ status: res.status }) && attempt < 2) continue;
    if (res.status === 404) throw new ApiError("not_found", {}, "provider: not found");
    if (res.status >= 400 && res.status < 500) throw new ApiError("upstream", {}, `provider refused (${res.status})`);
    throw new ApiError("upstream", {}, `provider failed (${res.status})`);
  }
}
