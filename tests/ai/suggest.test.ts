// POST /suggest through the real SDKs to the fakes: fallback and retries, cooldown, deadline,
// generic failures, PII masking and flagging, cost, budgets, streaming, pool use.
import { describe, expect } from "vitest";
import { open } from "../../shared/crypto/index.ts";
import { openFor } from "../../shared/tenancy/index.ts";
import { expectError } from "../support/security.ts";
import { PROVIDER_ERROR_TEXT } from "./fake-providers.ts";
import { BASE, PII, readSse, test } from "./support.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("suggest: answers and accounting", () => {
  test("JSON answer; the row is sealed and priced from the table; the read is audited", async ({ api, arrange, providers, sql, deps }) => {
    const w = await arrange.world();
    providers.setDefault("openai", { text: "Happy to help!", usage: { input: 1000, output: 500 } });
    const res = await api("POST", "/suggest", { token: w.t.users.OPERATOR.token, distributor: w.t.id, body: { message_id: w.messageId } });
    expect(res.status).toBe(200);
    const b = await res.json();
    expect(b).toMatchObject({
      suggestion: "Happy to help!", provider: "openai", model: "gpt-5-mini", usage: { input_tokens: 1000, output_tokens: 500 },
      cost_usd: 0.00125, confidence: 0.9, flagged: false,
    });
    const [row] = await sql`select * from public.ai_responses where id = ${b.ai_response_id}`;
    expect(row).toMatchObject({ distributor_id: w.t.id, message_id: w.messageId, status: "ok", attempts: 1, cost_usd: "0.00125000", flagged: false });
    const keys = await deps.tenantKeys.get(w.t.id);
    expect(await openFor(keys, "ai_responses", row.id, { encryptedValue: row.response_encrypted, iv: row.response_iv, keyVersion: row.key_version })).toBe("Happy to help!");
    // GPT-5 takes max_completion_tokens; the context holds the message and the customer's id only.
    const sent = JSON.parse(providers.calls("openai")[0].body);
    expect(sent.max_completion_tokens).toBe(4000);
    expect(sent.max_tokens).toBeUndefined();
    expect(sent.messages[1].content).toContain(`Customer: ${w.customerId}`);
    expect(sent.messages[1].content).toContain("first message");
    expect(await arrange.auditRows(w.t.id, "ai.suggest")).toHaveLength(1);
  });

  test("context: the message and at most the 10 before it", async ({ api, arrange, providers }) => {
    const w = await arrange.world();
    const base = Date.now() - 60_000;
    let target = "";
    for (let i = 0; i < 14; i++) {
      target = await arrange.addMessage(w.t, w.conversationId, { content: { text: `msg-${i}-x` }, createdAt: new Date(base + i * 1000).toISOString() });
    }
    const res = await api("POST", "/suggest", { token: w.t.users.OPERATOR.token, distributor: w.t.id, body: { message_id: target } });
    expect(res.status).toBe(200);
    const content = JSON.parse(providers.calls("openai")[0].body).messages[1].content as string;
    for (let i = 3; i < 14; i++) expect(content).toContain(`msg-${i}-x`);
    for (let i = 0; i < 3; i++) expect(content).not.toContain(`msg-${i}-x`);
  });
});

describe("suggest: fallback and retries", () => {
  for (const [name, failure] of [
    ["500", { status: 500 }], ["429", { status: 429 }], ["408", { status: 408 }], ["409", { status: 409 }],
    ["timeout", { hang: true }], ["malformed JSON", { raw: "{not json" }],
  ] as const) {
    test(`${name}: retried, then the next provider answers`, async ({ api, arrange, providers, sleeps, sql }) => {
      const w = await arrange.world();
      providers.setDefault("openai", failure);
      providers.setDefault("anthropic", { text: "From Claude" });
      const res = await api("POST", "/suggest", { token: w.t.users.OPERATOR.token, distributor: w.t.id, body: { message_id: w.messageId } });
      expect(res.status).toBe(200);
      const b = await res.json();
      expect(b.provider).toBe("anthropic");
      expect(b.suggestion).toBe("From Claude");
      const retried = name !== "malformed JSON";
      expect(providers.calls("openai")).toHaveLength(retried ? 3 : 1);
      expect(sleeps).toHaveLength(retried ? 2 : 0);
      const [row] = await sql`select attempts, attempt_log from public.ai_responses where id = ${b.ai_response_id}`;
      expect(row.attempts).toBe(retried ? 4 : 2);
      expect(JSON.stringify(row.attempt_log)).not.toContain(PROVIDER_ERROR_TEXT);
    });
  }

  test("401 falls back at once", async ({ api, arrange, providers, sleeps }) => {
    const w = await arrange.world();
    providers.setDefault("openai", { status: 401 });
    const res = await api("POST", "/suggest", { token: w.t.users.OPERATOR.token, distributor: w.t.id, body: { message_id: w.messageId } });
    expect((await res.json()).provider).toBe("anthropic");
    expect(providers.calls("openai")).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  test("400 stops: Invalid request, no other provider called", async ({ api, arrange, providers, sql }) => {
    const w = await arrange.world();
    providers.setDefault("openai", { status: 400 });
    const res = await api("POST", "/suggest", { token: w.t.users.OPERATOR.token, distributor: w.t.id, body: { message_id: w.messageId } });
    await expectError(res, 400, "Invalid request");
    expect(providers.calls("anthropic")).toHaveLength(0);
    const [row] = await sql`select status, error_class from public.ai_responses where distributor_id = ${w.t.id}`;
    expect(row).toEqual({ status: "failed", error_class: "invalid_request" });
  });

  test("Retry-After is honoured (the wait is what the provider asked for)", async ({ api, arrange, providers, sleeps }) => {
    const w = await arrange.world();
    providers.script("openai", { status: 429, headers: { "retry-after": "2" } }, { text: "After waiting" });
    const res = await api("POST", "/suggest", { token: w.t.users.OPERATOR.token, distributor: w.t.id, body: { message_id: w.messageId } });
    const b = await res.json();
    expect(b.provider).toBe("openai");
    expect(b.suggestion).toBe("After waiting");
    expect(sleeps).toEqual([2000]);
  });

  test("all failing → 502 with the generic body, never the providers' text; the failure is recorded", async ({ api, arrange, providers, sql }) => {
    const w = await arrange.world();
    for (const p of ["openai", "anthropic", "mistral", "gemini"] as const) providers.setDefault(p, { status: 503 });
    const res = await api("POST", "/suggest", { token: w.t.users.OPERATOR.token, distributor: w.t.id, body: { message_id: w.messageId } });
    const body = await expectError(res, 502, "AI service unavailable");
    expect(JSON.stringify(body)).not.toContain(PROVIDER_ERROR_TEXT);
    const [row] = await sql`select status, error_class, attempts from public.ai_responses where distributor_id = ${w.t.id}`;
    expect(row).toEqual({ status: "failed", error_class: "server_error", attempts: 12 });
  });

  test("a provider with no key is skipped and reported not_configured", async ({ otherApp, arrange, providers, sql }) => {
    const app = await otherApp({ OPENAI_API_KEY: "", ANTHROPIC_API_KEY: "", MISTRAL_API_KEY: "", GEMINI_API_KEY: "only-gemini" });
    const w = await arrange.world();
    const res = await app.request("http://localhost/functions/v1/ai-respond/suggest", {
      method: "POST", headers: { authorization: `Bearer ${w.t.users.OPERATOR.token}`, "x-distributor-id": w.t.id, "content-type": "application/json" },
      body: JSON.stringify({ message_id: w.messageId }),
    });
    const b = await res.json();
    expect(b.provider).toBe("gemini");
    const [row] = await sql`select attempt_log from public.ai_responses where id = ${b.ai_response_id}`;
    expect(row.attempt_log.filter((a: { error_class: string }) => a.error_class === "not_configured").map((a: { provider: string }) => a.provider))
      .toEqual(["openai", "anthropic", "mistral"]);
  });

  test("the overall deadline: no retry runs past it → 502", async ({ otherApp, arrange, providers, sql }) => {
    const app = await otherApp({ AI_ATTEMPT_TIMEOUT_MS: "400", AI_DEADLINE_MS: "1000" }, { sleep: async () => {} });
    const w = await arrange.world();
    for (const p of ["openai", "anthropic", "mistral", "gemini"] as const) providers.setDefault(p, { hang: true });
    const res = await app.request("http://localhost/functions/v1/ai-respond/suggest", {
      method: "POST", headers: { authorization: `Bearer ${w.t.users.OPERATOR.token}`, "x-distributor-id": w.t.id, "content-type": "application/json" },
      body: JSON.stringify({ message_id: w.messageId }),
    });
    await expectError(res, 502, "AI service unavailable");
    const [row] = await sql`select error_class, attempts from public.ai_responses where distributor_id = ${w.t.id}`;
    expect(row.error_class).toBe("deadline");
    expect(row.attempts).toBeLessThanOrEqual(3);
    expect(providers.calls("mistral")).toHaveLength(0);
  });
});

describe("suggest: provider health in Postgres", () => {
  test("N failed requests in a row → skipped during the cooldown; tried again after it", async ({ otherApp, arrange, providers, sql }) => {
    const app = await otherApp({ AI_FAILURE_THRESHOLD: "2", AI_MAX_RETRIES: "0" });
    const w = await arrange.world();
    const call = async () => (await app.request("http://localhost/functions/v1/ai-respond/suggest", {
      method: "POST", headers: { authorization: `Bearer ${w.t.users.OPERATOR.token}`, "x-distributor-id": w.t.id, "content-type": "application/json" },
      body: JSON.stringify({ message_id: w.messageId }),
    })).json();
    providers.setDefault("openai", { status: 500 });
    expect((await call()).provider).toBe("anthropic");
    expect((await call()).provider).toBe("anthropic");
    expect(providers.calls("openai")).toHaveLength(2);
    const [h] = await sql`select consecutive_failures, cooldown_until > now() as cooling from private.ai_provider_health where provider = 'openai'`;
    expect(h).toEqual({ consecutive_failures: 2, cooling: true });
    expect((await call()).provider).toBe("anthropic");
    expect(providers.calls("openai")).toHaveLength(2); // skipped
    // The cooldown ends; openai has recovered.
    await sql`update private.ai_provider_health set cooldown_until = now() - interval '1 second' where provider = 'openai'`;
    providers.setDefault("openai", { text: "back" });
    expect((await call()).provider).toBe("openai");
    const [h2] = await sql`select consecutive_failures, cooldown_until from private.ai_provider_health where provider = 'openai'`;
    expect(h2).toEqual({ consecutive_failures: 0, cooldown_until: null });
  });
});

const PII_VALUES = ["ada.lovelace@example.com", "7946 0958", "4111 1111 1111 1111", "DE89 3704 0044 0532 0130 00", "123-45-6789", "221B Baker Street", "X1234567"];

describe("suggest: PII never leaves", () => {
  test("no PII value in any request body a provider received (JSON and stream, system prompt too); answers unmasked", async ({ api, arrange, providers, deps }) => {
    const { detectPii } = await import("../../shared/pii/index.ts");
    const text = `Hi, I'm Ada, mail ${PII.email}, call ${PII.phone}, card ${PII.card}, IBAN ${PII.iban}, SSN ${PII.ssn}, I live at ${PII.address}, ${PII.passport}.`;
    expect(detectPii(text).length).toBeGreaterThanOrEqual(7);
    const w = await arrange.world();
    await arrange.addMessage(w.t, w.conversationId, { content: { text: `Earlier: my email is ${PII.email} and phone ${PII.phone}` }, createdAt: new Date(Date.now() - 5000).toISOString() });
    const m = await arrange.addMessage(w.t, w.conversationId, { content: { text } });
    const put = await api("PUT", "/agents/customer_support", {
      token: w.t.users.OWNER.token, distributor: w.t.id,
      body: { system_prompt: `Sign as the shop; our support line is ${PII.phone}, card on file ${PII.card}.` },
    });
    expect(put.status).toBe(200);
    providers.setDefault("openai", { text: "We will email you at [EMAIL_1].", chunks: ["We will email you at [EMA", "IL_1]."] });
    const res = await api("POST", "/suggest", { token: w.t.users.OPERATOR.token, distributor: w.t.id, body: { message_id: m } });
    expect((await res.json()).suggestion).toBe(`We will email you at ${PII.email}.`);
    const s = await api("POST", "/suggest", { token: w.t.users.OPERATOR.token, distributor: w.t.id, body: { message_id: m, stream: true } });
    const events = await readSse(s);
    expect(events.filter((e) => e.event === "delta").map((e) => e.data.text).join("")).toBe(`We will email you at ${PII.email}.`);
    expect(providers.calls("openai")).toHaveLength(2);
    for (const r of providers.requests) {
      for (const v of PII_VALUES) expect(r.body, `${r.provider} ${r.path}`).not.toContain(v);
    }
    expect(providers.calls("openai")[0].body).toContain("[EMAIL_1]");
    void deps;
  });

  test("PII in an answer that the caller did not supply is flagged; the review queue shows it decrypted, audited", async ({ api, arrange, providers, sql }) => {
    const w = await arrange.world();
    providers.setDefault("openai", { text: "Call our partner at +1 415 555 2671 or partner@elsewhere.example" });
    const res = await api("POST", "/suggest", { token: w.t.users.OPERATOR.token, distributor: w.t.id, body: { message_id: w.messageId } });
    const b = await res.json();
    expect(b.flagged).toBe(true);
    expect(b.confidence).toBeLessThanOrEqual(0.3);
    const [row] = await sql`select flagged, contains_pii, response_encrypted from public.ai_responses where id = ${b.ai_response_id}`;
    expect(row.flagged).toBe(true);
    expect(row.contains_pii).toBe(true);
    expect(row.response_encrypted).not.toContain("partner@");
    const list = await api("GET", "/responses?flagged=true", { token: w.t.users.ADMIN.token, distributor: w.t.id });
    expect(list.status).toBe(200);
    const page = await list.json();
    expect(page.items).toHaveLength(1);
    expect(page.items[0]).toMatchObject({ id: b.ai_response_id, text: "Call our partner at +1 415 555 2671 or partner@elsewhere.example", flagged: true });
    const audit = await arrange.auditRows(w.t.id, "ai.response_read");
    expect(audit.map((a) => a.record_id)).toEqual([b.ai_response_id]);
    await expectError(await api("GET", "/responses", { token: w.t.users.OPERATOR.token, distributor: w.t.id }), 403, "Forbidden");
  });
});

describe("suggest: budgets", () => {
  test("a zero budget refuses with 429 before any provider is called", async ({ api, arrange, providers }) => {
    const w = await arrange.world();
    const put = await api("PUT", "/budget", { token: w.t.users.OWNER.token, distributor: w.t.id, body: { monthly_budget_usd: 0 } });
    expect(put.status).toBe(200);
    await expectError(await api("POST", "/suggest", { token: w.t.users.OPERATOR.token, distributor: w.t.id, body: { message_id: w.messageId } }), 429, "AI budget exceeded");
    expect(providers.requests).toHaveLength(0);
  });

  test("at the boundary under concurrency exactly the requests that fit pass; spend is settled", async ({ api, arrange, providers, sql }) => {
    const w = await arrange.world();
    // Each request reserves its worst case (~0.0603 USD: 4,000 output tokens at Claude's price).
    await api("PUT", "/budget", { token: w.t.users.OWNER.token, distributor: w.t.id, body: { monthly_budget_usd: 0.2 } });
    providers.setDefault("openai", { delayMs: 1500, usage: { input: 1000, output: 1000 } });
    const results = await Promise.all(Array.from({ length: 8 }, () =>
      api("POST", "/suggest", { token: w.t.users.OPERATOR.token, distributor: w.t.id, body: { message_id: w.messageId } })));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429, 429, 429]);
    expect(providers.calls("openai")).toHaveLength(3);
    const [b] = await sql`select spent_usd::text, reserved_usd::text from public.ai_budgets where distributor_id = ${w.t.id}`;
    expect(b).toEqual({ spent_usd: "0.00675000", reserved_usd: "0.00000000" });
    const got = await (await api("GET", "/budget", { token: w.t.users.OWNER.token, distributor: w.t.id })).json();
    expect(got).toMatchObject({ monthly_budget_usd: 0.2, overridden: true, spent_usd: 0.00675, reserved_usd: 0 });
  });
});

describe("suggest: streaming", () => {
  test("delta events then one done event with the JSON fields", async ({ api, arrange, providers }) => {
    const w = await arrange.world();
    providers.setDefault("openai", { chunks: ["Hel", "lo ", "there"] });
    const res = await api("POST", "/suggest", { token: w.t.users.OPERATOR.token, distributor: w.t.id, body: { message_id: w.messageId, stream: true } });
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const events = await readSse(res);
    expect(events.map((e) => e.event)).toEqual(["delta", "delta", "delta", "done"]);
    const done = events[3].data;
    expect(done).toMatchObject({ suggestion: "Hello there", provider: "openai", usage: { input_tokens: 100, output_tokens: 20 } });
    expect(Object.keys(done).sort()).toEqual(["ai_response_id", "confidence", "cost_usd", "flagged", "latency_ms", "model", "provider", "suggestion", "usage"]);
  });

  test("failure before the first delta falls back; a drop after it ends with an error event, no switch", async ({ api, arrange, providers, sql }) => {
    const w = await arrange.world();
    providers.setDefault("openai", { status: 500 });
    providers.setDefault("anthropic", { chunks: ["From ", "Claude"] });
    let events = await readSse(await api("POST", "/suggest", { token: w.t.users.OPERATOR.token, distributor: w.t.id, body: { message_id: w.messageId, stream: true } }));
    expect(events.at(-1)).toMatchObject({ event: "done", data: { suggestion: "From Claude", provider: "anthropic" } });

    providers.reset();
    providers.setDefault("openai", { chunks: ["one ", "two ", "three"], dropAfter: 1 });
    events = await readSse(await api("POST", "/suggest", { token: w.t.users.OPERATOR.token, distributor: w.t.id, body: { message_id: w.messageId, stream: true } }));
    expect(events.map((e) => e.event), JSON.stringify(events)).toEqual(["delta", "error"]);
    expect(events[1].data.error).toBe("AI service unavailable");
    expect(providers.calls("anthropic")).toHaveLength(0);
    const rows = await sql`select status, error_class from public.ai_responses where distributor_id = ${w.t.id} order by created_at`;
    expect(rows.at(-1)).toEqual({ status: "failed", error_class: "stream_interrupted" });
  });

  test("a client that disconnects cancels the upstream request", async ({ api, arrange, providers, sql }) => {
    const w = await arrange.world();
    providers.setDefault("openai", { chunks: Array.from({ length: 50 }, (_, i) => `w${i} `), chunkDelayMs: 100 });
    const res = await api("POST", "/suggest", { token: w.t.users.OPERATOR.token, distributor: w.t.id, body: { message_id: w.messageId, stream: true } });
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel();
    for (let i = 0; i < 50 && !providers.calls("openai")[0]?.aborted; i++) await sleep(100);
    expect(providers.calls("openai")[0].aborted).toBe(true);
    for (let i = 0; i < 50; i++) {
      const [r] = await sql`select error_class from public.ai_responses where distributor_id = ${w.t.id}`;
      if (r) return expect(r.error_class).toBe("cancelled");
      await sleep(100);
    }
    throw new Error("no row recorded");
  });
});

describe("suggest: connections", () => {
  test("50 concurrent suggests against a provider taking 2 s do not exhaust a pool of 4", async ({ otherApp, arrange, providers }) => {
    const app = await otherApp({ DB_POOL_MAX: "4", AI_ATTEMPT_TIMEOUT_MS: "10000" });
    const w = await arrange.world();
    providers.setDefault("openai", { delayMs: 2000 });
    const results = await Promise.all(Array.from({ length: 50 }, () => app.request("http://localhost/functions/v1/ai-respond/suggest", {
      method: "POST", headers: { authorization: `Bearer ${w.t.users.OPERATOR.token}`, "x-distributor-id": w.t.id, "content-type": "application/json" },
      body: JSON.stringify({ message_id: w.messageId }),
    })));
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect(providers.calls("openai")).toHaveLength(50);
  });
});

void open;

describe("suggest: the per-distributor limit and the rows every request touches", () => {
  test("members spend the limit (failures too), strangers nothing; past it 429 before any provider", async ({ otherApp, arrange, providers }) => {
    const app = await otherApp({ AI_SUGGEST_RATE_LIMIT_PER_MINUTE: "3" });
    const w = await arrange.world();
    const other = await arrange.world();
    const call = (token: string, messageId = w.messageId) =>
      app.request(`${BASE}/suggest`, {
        method: "POST", body: JSON.stringify({ message_id: messageId }),
        headers: { authorization: `Bearer ${token}`, "x-distributor-id": w.t.id, "content-type": "application/json" },
      });
    // Another tenant's user: 404, counts nothing.
    for (let i = 0; i < 3; i++) await expectError(await call(other.t.users.OWNER.token), 404, "Not found");
    const ok1 = await call(w.t.users.OPERATOR.token);
    expect(ok1.status).toBe(200);
    expect(ok1.headers.get("ratelimit-remaining")).toBe("2");
    // A member's failure (an unknown message) counts.
    await expectError(await call(w.t.users.OPERATOR.token, crypto.randomUUID()), 404, "Not found");
    const ok2 = await call(w.t.users.MANAGER.token);
    expect(ok2.status).toBe(200);
    expect(ok2.headers.get("ratelimit-remaining")).toBe("0");
    const refused = await call(w.t.users.OWNER.token);
    await expectError(refused, 429, "Too many requests");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(providers.calls("openai")).toHaveLength(2);
  });

  test("a success of a healthy provider writes no health row; a success after failures resets it", async ({ api, arrange, providers, sql }) => {
    const w = await arrange.world();
    const call = () => api("POST", "/suggest", { token: w.t.users.OPERATOR.token, distributor: w.t.id, body: { message_id: w.messageId } });
    expect((await call()).status).toBe(200);
    expect(await sql`select provider from private.ai_provider_health`).toHaveLength(0);
    providers.script("openai", { status: 500 }, { status: 500 }, { status: 500 });
    expect((await (await call()).json()).provider).toBe("anthropic");
    expect(await sql`select provider, consecutive_failures from private.ai_provider_health order by provider`).toEqual([{ provider: "openai", consecutive_failures: 1 }]);
    expect((await (await call()).json()).provider).toBe("openai");
    expect(await sql`select provider, consecutive_failures, cooldown_until from private.ai_provider_health order by provider`)
      .toEqual([{ provider: "openai", consecutive_failures: 0, cooldown_until: null }]);
  });
});
