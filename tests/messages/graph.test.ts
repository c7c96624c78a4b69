// The WhatsApp Cloud API client of the messages function: the pure retry decision, and the
// send loop against the fake Graph server (real fetch, real HTTP on 127.0.0.1).
import { describe, expect, it } from "vitest";
import {
  attemptSend, DEFAULT_RETRY_POLICY, parseRetryAfter, sendWhatsAppText, shouldRetry, type AttemptResult, type GraphOptions,
  type RetryPolicy,
} from "../../functions/messages/graph.ts";
import { graphError, graphOk } from "../support/fake-graph.ts";
import { test } from "../support/messages.ts";
import { freePort } from "../../scripts/db/server.ts";

const policy: RetryPolicy = { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1_000, maxRetryAfterMs: 5_000 };
const http = (status: number, retryAfter: string | null = null): AttemptResult =>
  ({ kind: "http", status, retryAfter, errorCode: String(status), errorTitle: "t" });

describe("shouldRetry (pure)", () => {
  it("stops on success", () => {
    expect(shouldRetry({ kind: "ok", status: 200, wamid: "w" }, 1, policy)).toEqual({ retry: false, waitMs: 0, reason: "success" });
  });

  it("retries 429 and 5xx with exponential backoff while attempts remain", () => {
    expect(shouldRetry(http(429), 1, policy)).toEqual({ retry: true, waitMs: 100, reason: "rate_limited" });
    expect(shouldRetry(http(500), 1, policy)).toEqual({ retry: true, waitMs: 100, reason: "server_error" });
    expect(shouldRetry(http(503), 2, policy)).toEqual({ retry: true, waitMs: 200, reason: "server_error" });
    expect(shouldRetry(http(502), 3, policy)).toEqual({ retry: false, waitMs: 0, reason: "attempts_exhausted" });
    expect(shouldRetry(http(429), 3, policy)).toEqual({ retry: false, waitMs: 0, reason: "attempts_exhausted" });
  });

  it("caps the backoff and applies equal jitter from the policy's random source", () => {
    const p = { ...policy, maxAttempts: 10 };
    expect(shouldRetry(http(500), 8, p).waitMs).toBe(1_000);
    expect(shouldRetry(http(500), 2, { ...p, random: () => 0 }).waitMs).toBe(100); // d/2
    expect(shouldRetry(http(500), 2, { ...p, random: () => 0.999 }).waitMs).toBe(200); // ≈ d
  });

  it("respects Retry-After (seconds or HTTP date) up to the cap, and gives up beyond it", () => {
    expect(shouldRetry(http(429, "0"), 1, policy)).toEqual({ retry: true, waitMs: 0, reason: "rate_limited" });
    expect(shouldRetry(http(429, "2"), 1, policy)).toEqual({ retry: true, waitMs: 2_000, reason: "rate_limited" });
    expect(shouldRetry(http(503, "5"), 1, policy)).toEqual({ retry: true, waitMs: 5_000, reason: "server_error" });
    expect(shouldRetry(http(429, "6"), 1, policy)).toEqual({ retry: false, waitMs: 0, reason: "retry_after_too_long" });
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(shouldRetry(http(429, "Thu, 01 Jan 2026 00:00:03 GMT"), 1, policy, now).waitMs).toBe(3_000);
    // unreadable → backoff
    expect(shouldRetry(http(429, "soon"), 1, policy).waitMs).toBe(100);
  });

  it("does not retry other 4xx, timeouts (Graph may have sent it) or answers without a wamid", () => {
    expect(shouldRetry(http(400), 1, policy)).toEqual({ retry: false, waitMs: 0, reason: "client_error" });
    expect(shouldRetry(http(401), 1, policy).retry).toBe(false);
    expect(shouldRetry(http(404), 1, policy).retry).toBe(false);
    expect(shouldRetry({ kind: "timeout" }, 1, policy)).toEqual({ retry: false, waitMs: 0, reason: "timeout_not_retried" });
    expect(shouldRetry({ kind: "invalid_response", status: 200 }, 1, policy)).toEqual({ retry: false, waitMs: 0, reason: "invalid_response" });
  });

  it("retries network errors (nothing answered) within the attempt budget", () => {
    expect(shouldRetry({ kind: "network" }, 1, policy)).toEqual({ retry: true, waitMs: 100, reason: "network_error" });
    expect(shouldRetry({ kind: "network" }, 3, policy).retry).toBe(false);
  });

  it("parses Retry-After", () => {
    expect(parseRetryAfter(null, 0)).toBeNull();
    expect(parseRetryAfter(" 7 ", 0)).toBe(7_000);
    expect(parseRetryAfter("-1", 0)).toBeNull();
    expect(parseRetryAfter("Thu, 01 Jan 1970 00:00:10 GMT", 20_000)).toBe(0);
  });

  it("has a bounded default policy (≤ 3 attempts)", () => {
    expect(DEFAULT_RETRY_POLICY.maxAttempts).toBe(3);
    expect(DEFAULT_RETRY_POLICY.maxRetryAfterMs).toBeLessThanOrEqual(10_000);
  });
});

/** The file's fake Graph server (reset for each test), the waits a send asked for, and its options. */
const graphTest = test
  .extend("waits", async (): Promise<number[]> => [])
  .extend("options", async ({ graph, waits }) => (o: Partial<GraphOptions> = {}): GraphOptions => ({
    baseUrl: graph.url, version: "v21.0", timeoutMs: 2_000, fetch: globalThis.fetch,
    policy: { ...policy, baseDelayMs: 5, maxDelayMs: 20 },
    sleep: async (ms) => {
      waits.push(ms);
    },
    ...o,
  }));

describe("sendWhatsAppText against the fake Graph server", () => {
  const msg = { phoneNumberId: "1234567890", accessToken: "EAAG-secret-token", to: "447700900123", body: "Hello there" };

  graphTest("posts Meta's wire format with the bearer token and returns the wamid", async ({ graph, options }) => {
    graph.script(graphOk("wamid.ONE"));
    const r = await sendWhatsAppText(options(), { ...msg, previewUrl: true });
    expect(r).toEqual({ ok: true, wamid: "wamid.ONE", attempts: 1 });
    expect(graph.requests).toHaveLength(1);
    const [req] = graph.requests;
    expect(req.method).toBe("POST");
    expect(req.path).toBe("/v21.0/1234567890/messages");
    expect(req.authorization).toBe("Bearer EAAG-secret-token");
    expect(req.contentType).toBe("application/json");
    expect(req.body).toEqual({
      messaging_product: "whatsapp", recipient_type: "individual", to: "447700900123", type: "text",
      text: { preview_url: true, body: "Hello there" },
    });
  });

  graphTest("429 with Retry-After: 0, then success → two attempts, no wait", async ({ graph, options, waits }) => {
    graph.script(graphError(429, 130429, "Rate limit hit", { "Retry-After": "0" }), graphOk("wamid.TWO"));
    const r = await sendWhatsAppText(options(), msg);
    expect(r).toEqual({ ok: true, wamid: "wamid.TWO", attempts: 2 });
    expect(waits).toEqual([0]);
    expect(graph.requests).toHaveLength(2);
  });

  graphTest("500 forever → three attempts with backoff, then Meta's error code and title", async ({ graph, options, waits }) => {
    graph.setDefault(graphError(500, 1, "An unknown error occurred"));
    const r = await sendWhatsAppText(options(), msg);
    expect(r).toEqual({ ok: false, attempts: 3, reason: "attempts_exhausted", errorCode: "1", errorTitle: "An unknown error occurred" });
    expect(graph.requests).toHaveLength(3);
    expect(waits).toEqual([5, 10]);
  });

  graphTest("a 400 is not retried", async ({ graph, options }) => {
    graph.script(graphError(400, 131030, "Recipient phone number not in allowed list"));
    const r = await sendWhatsAppText(options(), msg);
    expect(r).toMatchObject({ ok: false, attempts: 1, reason: "client_error", errorCode: "131030" });
    expect(graph.requests).toHaveLength(1);
  });

  graphTest("malformed JSON on 200 → invalid_response, not retried (the message may have gone out)", async ({ graph, options }) => {
    graph.script({ status: 200, body: "{not json" });
    const r = await sendWhatsAppText(options(), msg);
    expect(r).toMatchObject({ ok: false, attempts: 1, reason: "invalid_response", errorCode: "invalid_response" });
  });

  graphTest("a 5xx with a non-JSON body still yields a code", async ({ graph, options }) => {
    graph.script({ status: 502, body: "<html>bad gateway</html>" }, graphOk("wamid.THREE"));
    expect(await sendWhatsAppText(options(), msg)).toEqual({ ok: true, wamid: "wamid.THREE", attempts: 2 });
    graph.setDefault({ status: 503, body: "" });
    expect(await sendWhatsAppText(options(), msg)).toMatchObject({ ok: false, errorCode: "http_503", errorTitle: "HTTP 503" });
  });

  graphTest("each attempt is bounded by the timeout, and a timeout is not retried", async ({ graph, options }) => {
    graph.script({ ...graphOk("wamid.LATE"), delayMs: 1_000 });
    const started = Date.now();
    const r = await sendWhatsAppText(options({ timeoutMs: 150 }), msg);
    expect(Date.now() - started).toBeLessThan(900);
    expect(r).toMatchObject({ ok: false, attempts: 1, reason: "timeout_not_retried", errorCode: "timeout" });
  });

  graphTest("an unreachable server is a network error, retried, then reported", async ({ options }) => {
    const port = await freePort();
    const r = await sendWhatsAppText(options({ baseUrl: `http://127.0.0.1:${port}` }), msg);
    expect(r).toMatchObject({ ok: false, attempts: 3, reason: "attempts_exhausted", errorCode: "network_error" });
  });

  graphTest("attemptSend never throws and never puts the token or body in its result", async ({ graph, options }) => {
    graph.script(graphError(401, 190, "Invalid OAuth access token"));
    const r = await attemptSend(options(), msg);
    expect(r).toEqual({ kind: "http", status: 401, retryAfter: null, errorCode: "190", errorTitle: "Invalid OAuth access token" });
    expect(JSON.stringify(r)).not.toContain("EAAG");
    expect(JSON.stringify(r)).not.toContain("Hello");
  });
});
