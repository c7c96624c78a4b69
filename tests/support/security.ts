// The security cases every endpoint gets. `call` performs the request with the given headers.
import { expect, it } from "vitest";
import { SignJWT } from "jose";
import { TEST_JWT_SECRET } from "./harness.ts";
import { signDevToken } from "../../scripts/lib/dev-tokens.ts";

export type Call = (headers: Record<string, string>) => Response | Promise<Response>;

async function expectUnauthorized(res: Response) {
  expect(res.status).toBe(401);
  const body = await res.json();
  expect(body.error).toBe("Authentication required");
  expect(typeof body.requestId).toBe("string");
  expect(Object.keys(body).sort()).toEqual(["error", "requestId"]);
}

function unsigned(payload: Record<string, unknown>): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${b64({ alg: "none", typ: "JWT" })}.${b64(payload)}.`;
}

/** Registers the shared authentication cases for one endpoint. */
export function authenticationCases(name: string, call: Call) {
  const sub = "00000000-0000-4000-8000-0000000000aa";
  it(`${name}: no token → 401`, async () => expectUnauthorized(await call({})));
  it(`${name}: malformed header → 401`, async () => expectUnauthorized(await call({ authorization: "Token abc" })));
  it(`${name}: bad signature → 401`, async () =>
    expectUnauthorized(await call({ authorization: `Bearer ${await signDevToken("another-secret-that-is-32-chars-long!!", { sub })}` })));
  it(`${name}: expired → 401`, async () =>
    expectUnauthorized(await call({ authorization: `Bearer ${await signDevToken(TEST_JWT_SECRET, { sub, expiresInSeconds: -120 })}` })));
  it(`${name}: anon role → 401`, async () =>
    expectUnauthorized(await call({ authorization: `Bearer ${await signDevToken(TEST_JWT_SECRET, { sub, role: "anon" })}` })));
  it(`${name}: wrong audience → 401`, async () =>
    expectUnauthorized(await call({ authorization: `Bearer ${await signDevToken(TEST_JWT_SECRET, { sub, audience: "other" })}` })));
  it(`${name}: alg none → 401`, async () =>
    expectUnauthorized(await call({ authorization: `Bearer ${unsigned({ sub, aud: "authenticated", role: "authenticated", exp: 9999999999 })}` })));
  it(`${name}: not yet valid (nbf) → 401`, async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ role: "authenticated" }).setProtectedHeader({ alg: "HS256" }).setSubject(sub)
      .setAudience("authenticated").setNotBefore(now + 3600).setExpirationTime(now + 7200)
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    await expectUnauthorized(await call({ authorization: `Bearer ${token}` }));
  });
}

/** A field a 400 names: where, a dotted path and zod's code (never the value). */
export interface ExpectedIssue { in?: "body" | "query" | "path" | "header"; path: string; code?: string }

/**
 * An error answer in the one shape: the status, its generic message, a request id, and nothing
 * else, except that a 400 may say which fields failed (`issues`). With `issues`, each expected
 * one must be among them. Returns the body.
 */
export async function expectError(res: Response, status: number, error: string, issues?: ExpectedIssue[]) {
  expect(res.status).toBe(status);
  const body = await res.json();
  expect(body.error).toBe(error);
  expect(typeof body.requestId).toBe("string");
  const keys = status === 400 && "issues" in body ? ["error", "issues", "requestId"] : ["error", "requestId"];
  expect(Object.keys(body).sort()).toEqual(keys);
  for (const i of body.issues ?? []) {
    // where, a path and zod's code: nothing else, never a value
    expect(Object.keys(i).sort()).toEqual(["code", "in", "path"]);
    expect(["body", "query", "path", "header"]).toContain(i.in);
  }
  if (issues) expect(body.issues).toEqual(expect.arrayContaining(issues.map((i) => expect.objectContaining(i))));
  return body as { error: string; requestId: string; issues?: { in: string; path: string; code: string }[] };
}
