// The request pipeline every generating route shares:
//   1. mask the prompt (system and user parts together), pick candidates (order, cooldowns read
//      in one short statement, keys: the user's own first where allowed, else the platform's;
//      no key → skipped as not_configured), reserve the budget (one statement);
//   2. call providers through the fallback engine with no transaction or connection held;
//   3. unmask, flag PII the caller did not supply, price the answer, and record everything
//      (the ai_responses row, sealed; the budget settlement; provider health) in one short
//      service transaction.
// JSON answers and Server-Sent Events differ only in step 2's reading and how 3 is reported.
import type { Context } from "hono";
import { AiFailure, runWithFallback, type AttemptLog, type Candidate, type EngineOptions, type EngineResult } from "../../shared/ai/engine.ts";
import { providersInCooldown, recordHealth } from "../../shared/ai/health.ts";
import { maskParts, suppliedValues, unexpectedPii, unmaskPii } from "../../shared/ai/masking.ts";
import { tokenCost, worstCaseCost } from "../../shared/ai/prices.ts";
import { configuredProviders, type ConfiguredProvider, type ProviderId } from "../../shared/ai/registry.ts";
import { reserveBudget, settleBudget } from "../../shared/ai/budget.ts";
import { sseEvent, StreamUnmasker } from "../../shared/ai/stream.ts";
import type { ChatRequest, ChatResult, Finish, StreamEvent, WireClient, WireFactory } from "../../shared/ai/types.ts";
import { WIRE_FACTORIES } from "../../shared/ai/wire/index.ts";
import type { Sealed } from "../../shared/crypto/index.ts";
import { currentDeadline, Deadline, withDeadline } from "../../shared/http/deadline.ts";
import { ApiError, type AppEnv } from "../../shared/http/index.ts";
import { describeError } from "../../shared/log/index.ts";
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
  candidates: Candidate[];
  skipped: AttemptLog[];
  placeholders: Record<string, string>;
  supplied: string[];
  request: (c: Candidate) => ChatRequest;
  estimate: number;
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

  /** Step 1. Throws 429 ai_budget_exceeded before any provider is called. */
  async prepare(job: Job): Promise<Prepared> {
    const started = performance.now();
    const { masked: [system, user], placeholders } = maskParts([job.system, job.user]);
    const cooling = await providersInCooldown(this.deps.db.sql);
    const candidates: Candidate[] = [];
    const skipped: AttemptLog[] = [];
    for (const [i, id] of job.order.entries()) {
      const p = this.providers[id];
      const model = i === 0 && job.model ? job.model : p.defaultModel;
      const skip = (cls: string) => skipped.push({ provider: id, model, key_source: "platform", error_class: cls, status: null, latency_ms: 0 });
      if (cooling.has(id)) {
        skip("cooldown");
        continue;
      }
      const own = job.userKeys ? await getUserSecret(this.deps, job.userId, p.userSecret) : null;
      const key = own ?? p.platformKey;
      if (!key) {
        skip("not_configured");
        continue;
      }
      const source = own ? "user" : "platform";
      candidates.push({ provider: id, model, keySource: source, client: this.client(id, key, source) });
    }
    const maxTokensOf = (c: Candidate) => Math.min(job.maxTokens ?? this.providers[c.provider].maxTokens, this.providers[c.provider].maxTokens);
    const estimate = worstCaseCost(candidates, system.length + user.length, Math.max(0, ...candidates.map(maxTokensOf)));
    if (job.distributorId && candidates.length) {
      const ok = await reserveBudget(this.deps.db.sql, job.distributorId, estimate, this.deps.config.AI_MONTHLY_BUDGET_USD);
      if (!ok) throw new ApiError("ai_budget_exceeded", {}, "monthly budget reached");
    }
    return {
      job, candidates, skipped, placeholders, supplied: suppliedValues([job.system, job.user]), estimate, started,
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
    const text = unmaskPii(r.value.text, p.placeholders);
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
        const unmasker = new StreamUnmasker(p.placeholders);
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
        const text = unmaskPii(raw, p.placeholders);
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
    const pii = unexpectedPii(text, [...Object.values(p.placeholders), ...p.supplied]);
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
    await this.deps.db.withService(async (tx) => {
      await Promise.all([
        tx`insert into public.ai_responses (id, distributor_id, user_id, message_id, route, agent_type, provider, model, attempts, attempt_log,
             input_tokens, output_tokens, cost_usd, latency_ms, confidence, contains_pii, flagged, status, error_class,
             response_encrypted, response_iv, key_version)
           values (${id}, ${j.distributorId}, ${j.userId}, ${j.messageId}, ${j.route}, ${j.agentType},
             ${o.ok ? o.provider : (o.attempts.at(-1)?.provider ?? null)}, ${o.ok ? o.model : (o.attempts.at(-1)?.model ?? null)},
             ${tried}, ${tx.json(log as never)}, ${o.ok ? o.inputTokens : 0}, ${o.ok ? o.outputTokens : 0}, ${o.ok ? o.cost : 0},
             ${o.ok ? o.latency : Math.round(performance.now() - p.started)}, ${o.ok ? o.confidence : null},
             ${o.ok ? o.containsPii : false}, ${o.ok ? o.flagged : false}, ${o.ok ? "ok" : "failed"}, ${o.ok ? null : o.errorClass},
             ${sealed?.encryptedValue ?? null}, ${sealed?.iv ?? null}, ${sealed?.keyVersion ?? null})`,
        j.distributorId && p.candidates.length ? settleBudget(tx, j.distributorId, p.estimate, o.ok ? o.cost : 0) : Promise.resolve(),
        recordHealth(tx, o.outcomes, cfg.AI_FAILURE_THRESHOLD, cfg.AI_COOLDOWN_SECONDS),
      ]);
    });
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
