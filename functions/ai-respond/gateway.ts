// The request pipeline every generating route shares:
//   1. mask the prompt (system and user parts together), pick candidates (order, keys: the
//      user's own first where allowed, else the platform's; no key → skipped as
//      not_configured), then ONE statement admits the request (shared/ai/ledger.ts): the
//      route's rate-limit hit, the providers cooling down (skipped), the budget reservation;
//   2. call providers through the fallback engine with no transaction or connection held;
//   3. unmask, flag PII the caller did not supply, price the answer, and record everything
//      (the ai_responses row, sealed; the budget settlement; provider health when it changes)
//      in ONE statement.
// JSON answers and Server-Sent Events differ only in step 2's reading and how 3 is reported.
import type { Context } from "hono";
import { AiFailure, runWithFallback, type AttemptLog, type Candidate, type EngineOptions, type EngineResult } from "../../shared/ai/engine.ts";
import { admit, record as recordOutcome, type Admission } from "../../shared/ai/ledger.ts";
import type * as Masking from "../../shared/ai/masking.ts";
import { tokenCost } from "../../shared/ai/prices.ts";
import { configuredProviders, type ConfiguredProvider, type ProviderId } from "../../shared/ai/registry.ts";
import { sseEvent } from "../../shared/ai/stream.ts";
import type { ChatRequest, ChatResult, Finish, StreamEvent, WireClient, WireFactory } from "../../shared/ai/types.ts";
import { WIRE_FACTORIES } from "../../shared/ai/wire/index.ts";
import type { Sealed } from "../../shared/crypto/index.ts";
import { currentDeadline, Deadline, withDeadline } from "../../shared/http/deadline.ts";
import { ApiError, type AppEnv } from "../../shared/http/index.ts";
import { describeError } from "../../shared/log/index.ts";
import type { RunOptions } from "../../shared/db/index.ts";
import type { Deps } from "../../shared/runtime/deps.ts";
import { getUserSecret } from "../../shared/secrets/index.ts";

export interface AiAppOptions {
  /** Wire modules (default: the real SDK adapters). */
  wires?: Partial<Record<keyof typeof WIRE_FACTORIES, WireFactory>>;
  /** Backoff sleep and jitter (tests observe the waits instead of timing them). */
  sleep?: EngineOptions["sleep"];
  random?: () => number;
}

export interface Job {
  route: "suggest" | "generate";
  distributorId: string | null;
  userId: string;
  messageId: string | null;
  agentType: string | null;
  /** Unmasked; masked here. */
  system: string;
  user: string;
  order: ProviderId[];
  /** Model for the first provider in `order` (validated by the route). */
  model?: string;
  temperature?: number;
  maxTokens?: number;
  /** Try the user's own keys (manage-user-secrets) before the platform's. */
  userKeys: boolean;
  /** Seal the stored answer for row `id`. */
  seal: (id: string, text: string) => Promise<Sealed>;
  /** The route's rate-limit hit, taken in the admission statement (after the gate). */
  limit?: RunOptions;
}

export interface Answer {
  text: string;
  ai_response_id: string;
  provider: ProviderId;
  model: string;
  usage: { input_tokens: number; output_tokens: number };
  cost_usd: number;
  latency_ms: number;
  confidence: number;
  flagged: boolean;
  invalid_keys: ProviderId[];
}

interface Prepared {
  job: Job;
  /** shared/ai/masking (with shared/pii), imported by the first request that needs it. */
  pii: typeof Masking;
  candidates: Candidate[];
  skipped: AttemptLog[];
  placeholders: Record<string, string>;
  /** The PII values of the caller's unmasked input (computed only when an answer needs them). */
  supplied: () => string[];
  request: (c: Candidate) => ChatRequest;
  /** USD reserved of the distributor's budget (null: nothing reserved). */
  reserved: number | null;
  started: number;
}

/** Confidence from how the answer ended: a finished answer 0.9, cut at max tokens 0.5; flagged at most 0.3. */
export function confidenceOf(finish: Finish, flagged: boolean): number {
  const c = finish === "stop" ? 0.9 : finish === "length" ? 0.5 : 0.6;
  return flagged ? Math.min(c, 0.3) : c;
}

export class Gateway {
  readonly providers: Record<ProviderId, ConfiguredProvider>;
  readonly #platformClients = new Map<ProviderId, WireClient>();
  readonly #wires: Record<string, WireFactory>;

  constructor(private readonly deps: Deps, private readonly opts: AiAppOptions = {}) {
    this.providers = configuredProviders(deps.config);
    this.#wires = { ...WIRE_FACTORIES, ...opts.wires };
  }

  client(provider: ProviderId, apiKey: string, source: "user" | "platform"): WireClient {
    const p = this.providers[provider];
    const make = () => this.#wires[p.wire]({
      apiKey, baseUrl: p.baseUrl, fetch: this.deps.fetch, timeoutMs: this.deps.config.AI_ATTEMPT_TIMEOUT_MS + 1000,
    });
    if (source === "user") return make();
    let c = this.#platformClients.get(provider);
    if (!c) this.#platformClients.set(provider, (c = make()));
    return c;
  }

  engineOptions(signal?: AbortSignal): EngineOptions {
    const cfg = this.deps.config;
    return {
      attemptTimeoutMs: cfg.AI_ATTEMPT_TIMEOUT_MS, deadlineMs: cfg.AI_DEADLINE_MS, maxRetries: cfg.AI_MAX_RETRIES,
      backoff: { baseMs: cfg.AI_BACKOFF_BASE_MS, retryAfterCapMs: cfg.AI_RETRY_AFTER_CAP_MS },
      sleep: this.opts.sleep, random: this.opts.random, signal,
    };
  }

  /** Step 1. Throws 429 (rate limit, ai_budget_exceeded) before any provider is called. */
  async prepare(job: Job): Promise<Prepared> {
    const started = performance.now();
    const pii = await import("../../shared/ai/masking.ts");
    const { masked: [system, user], placeholders } = pii.maskParts([job.system, job.user]);
    const cfg = this.deps.config;
    const budgeted = job.distributorId !== null;
    const inTokens = Math.ceil((system.length + user.length) / 2) + 50;
    const modelOf = (id: ProviderId, i: number) => (i === 0 && job.model ? job.model : this.providers[id].defaultModel);
    const maxTokensOf = (c: { provider: ProviderId }) => Math.min(job.maxTokens ?? this.providers[c.provider].maxTokens, this.providers[c.provider].maxTokens);
    const admitWith = (estimates?: Partial<Record<ProviderId, number>>) => admit(this.deps.db.sql, {
      distributorId: job.distributorId, userId: job.userId, limit: job.limit, estimates, defaultBudgetUsd: cfg.AI_MONTHLY_BUDGET_USD,
    });
    // Budgeted (distributor) requests: one admission with every keyed provider's worst case (the
    // statement reserves the largest among those not cooling down). Others (user-level, own
    // keys: audited reads) learn the cooldowns first, so a cooling provider's key is not read.
    let admission: Admission | undefined = budgeted ? undefined : await admitWith();
    const keyed = new Map<ProviderId, { key: string; source: "user" | "platform" }>();
    for (const id of job.order) {
      if (admission?.cooling.has(id) || keyed.has(id)) continue;
      const own = job.userKeys ? await getUserSecret(this.deps, job.userId, this.providers[id].userSecret) : null;
      const key = own ?? this.providers[id].platformKey;
      if (key) keyed.set(id, { key, source: own ? "user" : "platform" });
    }
    if (!admission) {
      // A candidate's worst case: the whole prompt in (1 token per 2 characters, + 50), its max_tokens out.
      const estimates: Partial<Record<ProviderId, number>> = {};
      for (const [i, id] of job.order.entries()) {
        if (!keyed.has(id)) continue;
        const cost = tokenCost(id, modelOf(id, i), inTokens, maxTokensOf({ provider: id }));
        estimates[id] = Math.max(estimates[id] ?? 0, cost);
      }
      admission = await admitWith(estimates);
    }
    const candidates: Candidate[] = [];
    const skipped: AttemptLog[] = [];
    for (const [i, id] of job.order.entries()) {
      const model = modelOf(id, i);
      const k = keyed.get(id);
      const cls = admission.cooling.has(id) ? "cooldown" : k ? null : "not_configured";
      if (cls) skipped.push({ provider: id, model, key_source: "platform", error_class: cls, status: null, latency_ms: 0 });
      else candidates.push({ provider: id, model, keySource: k!.source, client: this.client(id, k!.key, k!.source) });
    }
    if (budgeted && candidates.length && !admission.ok) throw new ApiError("ai_budget_exceeded", {}, "monthly budget reached");
    return {
      job, pii, candidates, skipped, placeholders, supplied: () => pii.suppliedValues([job.system, job.user]), started,
      reserved: budgeted && candidates.length ? admission.reserved : null,
      request: (c) => ({
        model: c.model, system, user, maxTokens: maxTokensOf(c),
        temperature: job.temperature ?? this.providers[c.provider].temperature,
      }),
    };
  }

  /** Steps 2 and 3 for a JSON answer. */
  async complete(p: Prepared, signal?: AbortSignal): Promise<Answer> {
    let r: EngineResult<ChatResult>;
    try {
      r = await outsideDeadline(() => runWithFallback(p.candidates, (c, s) => c.client.complete(p.request(c), s), this.engineOptions(signal)));
    } catch (err) {
      throw await this.failed(p, err);
    }
    r.release();
    const text = p.pii.unmaskPii(r.value.text, p.placeholders);
    return await this.succeeded(p, r, text, r.value);
  }

  /** Steps 2 and 3 as Server-Sent Events. Failures before the first delta fall back; later ones end the stream with `error`. */
  async stream(c: Context<AppEnv>, p: Prepared): Promise<Response> {
    const requestId = c.get("requestId");
    const gone = new AbortController();
    c.req.raw.signal?.addEventListener?.("abort", () => gone.abort(), { once: true });
    const enc = new TextEncoder();
    const self = this;
    let iterator: AsyncIterator<StreamEvent> | undefined;

    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        const send = (ev: string, data: unknown) => {
          try {
            controller.enqueue(enc.encode(sseEvent(ev, data)));
          } catch { /* the client is gone */ }
        };
        let r: EngineResult<{ it: AsyncIterator<StreamEvent>; first: StreamEvent }>;
        try {
          r = await outsideDeadline(() => runWithFallback(p.candidates, async (cand, s) => {
            const it = cand.client.stream(p.request(cand), s)[Symbol.asyncIterator]();
            const first = await it.next(); // fallback is possible only until the first delta
            if (first.done) throw new Error("empty stream");
            iterator = it;
            return { it, first: first.value };
          }, self.engineOptions(gone.signal)));
        } catch (err) {
          const e = await self.failed(p, err).catch((x) => x);
          if (!gone.signal.aborted) send("error", { error: (e as ApiError).message ?? "AI service unavailable", requestId });
          return close(controller);
        }
        const unmasker = new p.pii.StreamUnmasker(p.placeholders);
        let raw = "";
        let end: Extract<StreamEvent, { type: "end" }> | undefined;
        try {
          let ev: StreamEvent | undefined = r.value.first;
          while (ev) {
            if (ev.type === "delta") {
              raw += ev.text;
              const out = unmasker.push(ev.text);
              if (out) send("delta", { text: out });
            } else end = ev;
            const next: IteratorResult<StreamEvent> = await outsideDeadline(() => r.value.it.next());
            ev = next.done ? undefined : next.value;
          }
          if (gone.signal.aborted) throw new Error("client disconnected");
          const rest = unmasker.flush();
          if (rest) send("delta", { text: rest });
        } catch (err) {
          r.release();
          const cancelled = gone.signal.aborted;
          await recordLater(() => self.record(p, {
            ok: false, attempts: [...r.attempts.slice(0, -1), { ...r.attempts[r.attempts.length - 1], error_class: cancelled ? "cancelled" : "stream_interrupted" }],
            outcomes: r.outcomes, errorClass: cancelled ? "cancelled" : "stream_interrupted",
          })).catch((e) => self.deps.logger.error("ai.record_failed", { requestId, ...describeError(e) }));
          if (!cancelled) send("error", { error: "AI service unavailable", requestId });
          self.deps.logger.warn("ai.stream_interrupted", { requestId, cancelled, ...describeError(err) });
          return close(controller);
        }
        r.release();
        const text = p.pii.unmaskPii(raw, p.placeholders);
        try {
          const a = await recordLater(() => self.succeeded(p, r, text, {
            inputTokens: end?.inputTokens ?? 0, outputTokens: end?.outputTokens ?? 0, model: end?.model ?? r.candidate.model, finish: end?.finish ?? "other",
          }));
          const { text: _t, invalid_keys, confidence, flagged, ...rest } = a;
          send("done", p.job.route === "suggest" ? { suggestion: text, ...rest, confidence, flagged } : { text, ...rest, invalid_keys });
        } catch (err) {
          self.deps.logger.error("ai.record_failed", { requestId, ...describeError(err) });
          send("error", { error: "Internal server error", requestId });
        }
        close(controller);
      },
      cancel() {
        gone.abort();
        iterator?.return?.().catch(() => {});
      },
    });
    return new Response(body, {
      status: 200,
      headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", "x-accel-buffering": "no" },
    });
  }

  private async succeeded(p: Prepared, r: EngineResult<unknown>, text: string, res: Omit<ChatResult, "text">): Promise<Answer> {
    const pii = p.pii.unexpectedPii(text, Object.values(p.placeholders), p.supplied);
    const flagged = pii.unexpected > 0;
    const cost = tokenCost(r.candidate.provider, r.candidate.model, res.inputTokens, res.outputTokens);
    const confidence = confidenceOf(res.finish, flagged);
    const latency = Math.round(performance.now() - p.started);
    const id = await this.record(p, {
      ok: true, attempts: r.attempts, outcomes: r.outcomes, provider: r.candidate.provider, model: res.model || r.candidate.model,
      inputTokens: res.inputTokens, outputTokens: res.outputTokens, cost, latency, confidence, containsPii: pii.containsPii, flagged, text,
    });
    return {
      text, ai_response_id: id, provider: r.candidate.provider, model: res.model || r.candidate.model,
      usage: { input_tokens: res.inputTokens, output_tokens: res.outputTokens }, cost_usd: cost, latency_ms: latency,
      confidence, flagged, invalid_keys: r.invalidKeys,
    };
  }

  /** Record a failed request and turn it into what the caller is told (never a provider's text). */
  private async failed(p: Prepared, err: unknown): Promise<ApiError> {
    if (!(err instanceof AiFailure)) {
      await this.record(p, { ok: false, attempts: [], outcomes: [], errorClass: "internal" }).catch(() => {});
      return err instanceof ApiError ? err : new ApiError("internal", {}, "ai pipeline crashed");
    }
    const errorClass = p.candidates.length ? err.errorClass : "not_configured";
    await this.record(p, { ok: false, attempts: err.attempts, outcomes: err.outcomes, errorClass });
    if (err.kind === "stop") return new ApiError("invalid_request", {}, `provider refused the request: ${err.errorClass}`);
    return new ApiError("ai_unavailable", {}, `all providers failed: ${errorClass}`);
  }

  async record(p: Prepared, o:
    | { ok: true; attempts: AttemptLog[]; outcomes: EngineResult<unknown>["outcomes"]; provider: ProviderId; model: string; inputTokens: number;
        outputTokens: number; cost: number; latency: number; confidence: number; containsPii: boolean; flagged: boolean; text: string }
    | { ok: false; attempts: AttemptLog[]; outcomes: EngineResult<unknown>["outcomes"]; errorClass: string },
  ): Promise<string> {
    const id = crypto.randomUUID();
    const j = p.job;
    const sealed = o.ok ? await j.seal(id, o.text) : null;
    const log = [...p.skipped, ...o.attempts];
    const tried = o.attempts.length;
    const cfg = this.deps.config;
    await recordOutcome(this.deps.db.sql, {
      id, distributor_id: j.distributorId, user_id: j.userId, message_id: j.messageId, route: j.route, agent_type: j.agentType,
      provider: o.ok ? o.provider : (o.attempts.at(-1)?.provider ?? null), model: o.ok ? o.model : (o.attempts.at(-1)?.model ?? null),
      attempts: tried, attempt_log: log, input_tokens: o.ok ? o.inputTokens : 0, output_tokens: o.ok ? o.outputTokens : 0,
      cost_usd: o.ok ? o.cost : 0, latency_ms: o.ok ? o.latency : Math.round(performance.now() - p.started),
      confidence: o.ok ? o.confidence : null, contains_pii: o.ok ? o.containsPii : false, flagged: o.ok ? o.flagged : false,
      status: o.ok ? "ok" : "failed", error_class: o.ok ? null : o.errorClass,
      response_encrypted: sealed?.encryptedValue ?? null, response_iv: sealed?.iv ?? null, key_version: sealed?.keyVersion ?? null,
    }, p.reserved, o.ok ? o.cost : 0, o.outcomes, cfg.AI_FAILURE_THRESHOLD, cfg.AI_COOLDOWN_SECONDS);
    return id;
  }
}

/** Provider calls do not spend the request's database budget (they have their own timeouts). */
async function outsideDeadline<T>(fn: () => Promise<T>): Promise<T> {
  const d = currentDeadline();
  d?.suspend();
  try {
    return await fn();
  } finally {
    d?.resume();
  }
}

/** Database work after a stream: it may outlive the request's own deadline, so it gets a fresh one. */
async function recordLater<T>(fn: () => Promise<T>): Promise<T> {
  const d = new Deadline(Math.max(5_000, currentDeadline()?.budgetMs ?? 5_000));
  try {
    return await withDeadline(d, fn);
  } finally {
    d.dispose();
  }
}

function close(controller: ReadableStreamDefaultController<Uint8Array>) {
  try {
    controller.close();
  } catch { /* already closed */ }
}
