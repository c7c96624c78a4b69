// Drive the OAuth flow through the real app and a fake authorization server, as a browser would.
import { expect } from "vitest";
import type { Platform } from "../../../shared/oauth/providers.ts";
import { bearer } from "../../support/harness.ts";
import { RETURN_BASE } from "./world.ts";

export const OAUTH = "http://localhost/functions/v1/oauth-callback";
type App = { request: (url: string, init?: RequestInit) => Response | Promise<Response> };

export const postJson = (app: App, path: string, token: string, body: unknown, headers: Record<string, string> = {}) =>
  app.request(`${OAUTH}${path}`, {
    method: "POST", headers: bearer(token, { "content-type": "application/json", ...headers }), body: JSON.stringify(body),
  });

export async function start(app: App, token: string, platform: Platform, returnUrl = `${RETURN_BASE}settings`): Promise<URL> {
  const res = await postJson(app, "/start", token, { platform, returnUrl });
  expect(res.status).toBe(200);
  return new URL(((await res.json()) as { authorizationUrl: string }).authorizationUrl);
}

/** The browser at the provider: it approves and is sent back to our callback (path + query). */
export async function approve(authorizationUrl: URL): Promise<string> {
  const res = await fetch(authorizationUrl, { redirect: "manual" });
  expect(res.status).toBe(302);
  const back = new URL(res.headers.get("location")!);
  return `${OAUTH}/callback${back.search}`;
}

/** start → approve → callback; returns the callback's answer. */
export async function connect(app: App, token: string, platform: Platform, headers: Record<string, string> = {}): Promise<Response> {
  const callback = await approve(await start(app, token, platform));
  return await app.request(callback, { headers });
}
