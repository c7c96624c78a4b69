// generate, keys/validate, feedback, agents, media and the security cases of every route.
import { describe, expect } from "vitest";
import { open } from "../../shared/crypto/index.ts";
import { authenticationCases, expectError } from "../support/security.ts";
import { adminSql, testDeps } from "../support/harness.ts";
import { createApp } from "../../functions/ai-respond/app.ts";
import { FAST_ENV, PII, readSse, requester, storeUserKey, test } from "./support.ts";
import { startFakeProviders } from "./fake-providers.ts";
import { newUser } from "../support/harness.ts";

describe("generate", () => {
  test("the user's own key wins over the platform key; the row is the user's, sealed with the keyring", async ({ api, sql, deps, providers }) => {
    const u = await newUser(sql);
    await storeUserKey(deps, sql, u.id, "openai_api_key_encrypted", "sk-user-own-key");
    providers.setDefault("openai", { text: "A post" });
    const res = await api("POST", "/generate", { token: u.token, body: { prompt: "Launch day!", platform: "linkedin", tone: "friendly" } });
    expect(res.status).toBe(200);
    const b = await res.json();
    expect(b).toMatchObject({ text: "A post", provider: "openai", model: "gpt-5-mini", invalid_keys: [] });
    expect(providers.calls("openai")[0].headers.authorization).toBe("Bearer sk-user-own-key");
    const [row] = await sql`select user_id, distributor_id, response_encrypted, response_iv, key_version from public.ai_responses where id = ${b.ai_response_id}`;
    expect(row.distributor_id).toBeNull();
    expect(row.user_id).toBe(u.id);
    expect(await open(deps.keyring, { encryptedValue: row.response_encrypted, iv: row.response_iv, keyVersion: row.key_version }, `ai_responses:${b.ai_response_id}`)).toBe("A post");
    // Without a key of its own, the platform's.
    const v = await newUser(sql);
    await api("POST", "/generate", { token: v.token, body: { prompt: "Hello" } });
    expect(providers.calls("openai")[1].headers.authorization).toBe("Bearer sk-platform-openai");
  });

  test("an invalid own key is reported and the next provider answers", async ({ api, sql, deps, providers }) => {
    const u = await newUser(sql);
    await storeUserKey(deps, sql, u.id, "openai_api_key_encrypted", "sk-revoked");
    providers.setDefault("openai", { status: 401 });
    const b = await (await api("POST", "/generate", { token: u.token, body: { prompt: "Hi" } })).json();
    expect(b).toMatchObject({ provider: "anthropic", invalid_keys: ["openai"] });
  });

  test("provider and model choose the first candidate; an unknown model is 400", async ({ api, sql, providers }) => {
    const u = await newUser(sql);
    const b = await (await api("POST", "/generate", { token: u.token, body: { prompt: "Hi", model: "mistral-small-latest" } })).json();
    expect(b).toMatchObject({ provider: "mistral", model: "mistral-small-latest" });
    await expectError(await api("POST", "/generate", { token: u.token, body: { prompt: "Hi", model: "gpt-9" } }), 400, "Invalid request", [{ path: "model" }]);
    await expectError(await api("POST", "/generate", { token: u.token, body: { prompt: "Hi", provider: "openai", model: "claude-sonnet-4-5" } }), 400, "Invalid request");
    expect(providers.calls("mistral")).toHaveLength(1);
  });

  test("PII never leaves (JSON and stream); the streamed answer is unmasked", async ({ api, sql, providers }) => {
    const u = await newUser(sql);
    const prompt = `Promote our shop. Contact ${PII.email}, ${PII.phone}, IBAN ${PII.iban}, card ${PII.card}, SSN ${PII.ssn}, ${PII.address}, ${PII.passport}`;
    providers.setDefault("openai", { text: "Mail [EMAIL_1]", chunks: ["Mail [EMAIL", "_1]"] });
    expect((await (await api("POST", "/generate", { token: u.token, body: { prompt } })).json()).text).toBe(`Mail ${PII.email}`);
    const events = await readSse(await api("POST", "/generate", { token: u.token, body: { prompt, stream: true } }));
    expect(events.at(-1)).toMatchObject({ event: "done", data: { text: `Mail ${PII.email}` } });
    for (const r of providers.requests) {
      for (const v of ["ada.lovelace@example.com", "7946 0958", "4111 1111 1111 1111", "DE89 3704", "123-45-6789", "221B Baker", "X1234567"]) expect(r.body).not.toContain(v);
    }
  });

  test("per-user rate limit", async ({ otherApp, sql, providers }) => {
    void providers;
    const app = await otherApp({ AI_GENERATE_RATE_LIMIT_PER_MINUTE: "1" });
    const call = requester(app);
    const u = await newUser(sql);
    expect((await call("POST", "/generate", { token: u.token, body: { prompt: "one" } })).status).toBe(200);
    await expectError(await call("POST", "/generate", { token: u.token, body: { prompt: "two" } }), 429, "Too many requests");
  });
});

describe("keys/validate", () => {
  test("no key → not_configured; accepted → valid; 401/403 → valid false (200); 500 → 502", async ({ api, sql, deps, providers }) => {
    const u = await newUser(sql);
    const v = (provider: string) => api("POST", "/keys/validate", { token: u.token, body: { provider } });
    expect(await (await v("anthropic")).json()).toEqual({ valid: false, provider: "anthropic", reason: "not_configured" });
    for (const p of ["openai", "anthropic", "mistral", "gemini"] as const) {
      await storeUserKey(deps, sql, u.id, `${p}_api_key_encrypted`, `user-key-${p}`);
      expect(await (await v(p)).json(), p).toEqual({ valid: true, provider: p, reason: "ok" });
    }
    providers.script("anthropic", { status: 401 });
    expect(await (await v("anthropic")).json()).toEqual({ valid: false, provider: "anthropic", reason: "rejected" });
    providers.script("gemini", { status: 403 });
    expect((await (await v("gemini")).json()).valid).toBe(false);
    providers.script("openai", { status: 500 });
    await expectError(await v("openai"), 502, "AI service unavailable");
  });
});

describe("feedback and agents", () => {
  test("rating by anyone with ai.view_suggestions; approval needs ai.approve_responses; edited text sealed", async ({ api, arrange, sql, providers }) => {
    void providers;
    const w = await arrange.world();
    const { ai_response_id } = await (await api("POST", "/suggest", { token: w.t.users.OPERATOR.token, distributor: w.t.id, body: { message_id: w.messageId } })).json();
    const fb = (token: string, body: object) => api("POST", "/feedback", { token, distributor: w.t.id, body: { ai_response_id, ...body } });
    expect((await fb(w.t.users.OPERATOR.token, { rating: 4 })).status).toBe(200);
    await expectError(await fb(w.t.users.MANAGER.token, { rating: 5, approved: true }), 403, "Forbidden");
    expect((await fb(w.t.users.ADMIN.token, { rating: 5, approved: true, edited_text: "Edited for ada@example.org" })).status).toBe(200);
    const [row] = await sql`select rating, approved, edited_encrypted from public.ai_responses where id = ${ai_response_id}`;
    expect(row.rating).toBe(5);
    expect(row.approved).toBe(true);
    expect(row.edited_encrypted).not.toContain("ada@");
    const page = await (await api("GET", "/responses", { token: w.t.users.ADMIN.token, distributor: w.t.id })).json();
    expect(page.items[0]).toMatchObject({ id: ai_response_id, edited_text: "Edited for ada@example.org", approved: true });
    expect(await arrange.auditRows(w.t.id, "ai.feedback")).toHaveLength(2);
    await expectError(await fb(w.t.users.OWNER.token, { rating: 9 }), 400, "Invalid request", [{ path: "rating" }]);
    await expectError(await api("POST", "/feedback", { token: w.t.users.OWNER.token, distributor: w.t.id, body: { ai_response_id: crypto.randomUUID(), rating: 3 } }), 404, "Not found");
  });

  test("agents: OWNER only; settings used by suggest (order, model, max tokens)", async ({ api, arrange, providers }) => {
    const w = await arrange.world();
    const body = { system_prompt: "Be brief.", provider_order: ["mistral", "openai"], model: "mistral-small-latest", max_tokens: 300, temperature: 0.2 };
    await expectError(await api("PUT", "/agents/sales", { token: w.t.users.ADMIN.token, distributor: w.t.id, body }), 403, "Forbidden");
    const put = await api("PUT", "/agents/sales", { token: w.t.users.OWNER.token, distributor: w.t.id, body });
    expect(put.status).toBe(200);
    const list = await (await api("GET", "/agents", { token: w.t.users.OWNER.token, distributor: w.t.id })).json();
    expect(list.items).toEqual([expect.objectContaining({ agent_type: "sales", provider_order: ["mistral", "openai"], model: "mistral-small-latest", max_tokens: 300, temperature: 0.2 })]);
    const s = await (await api("POST", "/suggest", { token: w.t.users.OPERATOR.token, distributor: w.t.id, body: { message_id: w.messageId, agent_type: "sales" } })).json();
    expect(s).toMatchObject({ provider: "mistral", model: "mistral-small-latest" });
    const sent = JSON.parse(providers.calls("mistral")[0].body);
    expect(sent).toMatchObject({ max_tokens: 300, temperature: 0.2, messages: [{ role: "system", content: "Be brief." }, expect.anything()] });
    await expectError(await api("PUT", "/agents/sales", { token: w.t.users.OWNER.token, distributor: w.t.id, body: { ...body, model: "gpt-5" } }), 400, "Invalid request");
  });
});

describe("media", () => {
  test("estimate from the price table; validation", async ({ api, sql }) => {
    const u = await newUser(sql);
    const e = (body: object) => api("POST", "/media/estimate", { token: u.token, body });
    expect(await (await e({ kind: "video", model: "veo-3-fast", seconds: 8 })).json()).toMatchObject({ cost_usd: 3.2 });
    expect(await (await e({ kind: "video", model: "veo-3", seconds: 2 })).json()).toMatchObject({ cost_usd: 1.5 });
    expect(await (await e({ kind: "image", model: "nano-banana" })).json()).toMatchObject({ cost_usd: 0.039 });
    await expectError(await e({ kind: "video", model: "veo-3", seconds: 9 }), 400, "Invalid request", [{ path: "seconds" }]);
    await expectError(await e({ kind: "image", model: "veo-3" }), 400, "Invalid request", [{ path: "model" }]);
  });

  test("video: a Gemini long-running operation with the user's key, polled", async ({ api, sql, deps, providers }) => {
    const u = await newUser(sql);
    await expectError(await api("POST", "/media/video", { token: u.token, body: { prompt: "A sunrise" } }), 400, "Invalid request");
    await storeUserKey(deps, sql, u.id, "gemini_api_key_encrypted", "user-gemini");
    await expectError(await api("POST", "/media/video", { token: u.token, body: { prompt: "A sunrise", aspect_ratio: "4:3" } }), 400, "Invalid request", [{ path: "aspect_ratio" }]);
    const start = await api("POST", "/media/video", { token: u.token, body: { prompt: `A sunrise, call ${PII.phone}`, seconds: 4 } });
    expect(start.status).toBe(202);
    const { operation_id, cost_usd } = await start.json();
    expect(cost_usd).toBe(1.6);
    const poll = async () => (await api("GET", `/media/operations/${operation_id}`, { token: u.token })).json();
    expect(await poll()).toMatchObject({ done: false });
    expect(await poll()).toMatchObject({ done: true, videos: [{ uri: expect.stringContaining("https://fake.example/") }] });
    for (const r of providers.requests) expect(r.body).not.toContain("7946 0958");
    expect(providers.requests.every((r) => r.headers["x-goog-api-key"] === "user-gemini")).toBe(true);
  });
});

describe("security", () => {
  test("another tenant's message is 404; outsiders 404; missing header 400", async ({ api, arrange, sql }) => {
    const A = await arrange.world("A");
    const B = await arrange.world("B");
    await expectError(await api("POST", "/suggest", { token: A.t.users.OWNER.token, distributor: A.t.id, body: { message_id: B.messageId } }), 404, "Not found");
    await expectError(await api("POST", "/suggest", { token: A.t.users.OWNER.token, distributor: B.t.id, body: { message_id: B.messageId } }), 404, "Not found");
    const o = await newUser(sql);
    await expectError(await api("GET", "/agents", { token: o.token, distributor: A.t.id }), 404, "Not found");
    await expectError(await api("POST", "/suggest", { token: A.t.users.OWNER.token, body: { message_id: A.messageId } }), 400, "Invalid request");
    await expectError(await api("GET", "/budget", { token: A.t.users.ADMIN.token, distributor: A.t.id }), 403, "Forbidden");
    await expectError(await api("PUT", "/budget", { token: A.t.users.MANAGER.token, distributor: A.t.id, body: { monthly_budget_usd: 1 } }), 403, "Forbidden");
  });
});

// The shared authentication cases, for every route.
const ROUTES: [string, string, unknown?][] = [
  ["POST", "/suggest", { message_id: "00000000-0000-4000-8000-000000000001" }], ["POST", "/generate", { prompt: "x" }],
  ["POST", "/feedback", { ai_response_id: "00000000-0000-4000-8000-000000000001", rating: 3 }], ["GET", "/agents"],
  ["PUT", "/agents/sales", { system_prompt: "x" }], ["GET", "/responses"], ["GET", "/budget"], ["PUT", "/budget", { monthly_budget_usd: 1 }],
  ["POST", "/keys/validate", { provider: "openai" }], ["POST", "/media/estimate", { kind: "image", model: "nano-banana" }],
  ["POST", "/media/video", { prompt: "a sunrise" }], ["GET", "/media/operations/abc"],
];
describe("authentication", async () => {
  const fake = await startFakeProviders();
  const deps = await testDeps({ ...fake.env, ...FAST_ENV });
  const app = createApp(deps);
  const call = requester(app);
  const { afterAll } = await import("vitest");
  afterAll(async () => {
    await deps.db.end();
    await fake.close();
  });
  for (const [method, path, body] of ROUTES) {
    authenticationCases(`${method} ${path}`, (headers) => call(method, path, { headers: { "x-distributor-id": "00000000-0000-4000-8000-0000000000dd", ...headers }, body }));
  }
  void adminSql;
});
