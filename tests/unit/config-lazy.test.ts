// shared/config parses only the variables that are set, each with its own zod schema, and falls
// back to the whole object schema on any failure. Pinned here: for any environment, the result
// is exactly what the one zod object schema gives (same values, same keys present), and a failure
// is the ConfigError that object schema's issues make (same variables, same words).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConfigError, configSchema, loadConfig, parseVariables } from "../../shared/config/index.ts";

const HEX = "8f1c0d5e2a4b6c7d9e0f112233445566778899aabbccddeeff00112233445566";
const NAMES = Object.keys(configSchema().shape);

/** Values worth trying on every variable: valid for some, invalid for others, and edge cases. */
const SAMPLES = [
  "0", "1", "-1", "-0", "4", "60", "100", "1000", "5000", "86400", "999999", "1000000", "10000001", "1e3", "0x10", "4.5",
  "9007199254740993", "Infinity", "NaN", "abc", "true", "false", "on", "off", "yes", "TRUE",
  "https://a.example", "https://a.example/x?y=1", "http://127.0.0.1:9/x", "http://localhost:3000/", "http://evil.example/",
  "https://user:pw@a.example/", "postgres://u:p@db.example:5432/postgres", "not a url", "ftp://x", "https://",
  "a,b,,c", "openai,gemini", "openai,nope", ",", "warn", "debug", "production", "development", "verbose",
  "x-forwarded-for", "x forwarded", "v21.0", "v21", "whsec_QUJDREVGR0hJSktMTU5PUA==", "whsec_short",
  "x".repeat(31), "x".repeat(32), "s".repeat(513), HEX, HEX.slice(1), `1:${HEX}`, `2:${HEX},3:${HEX}`, `1:${HEX.slice(2)}`,
  // JSON Web Key Sets (SUPABASE_JWKS): public keys as an object or an array, and refused ones
  '{"keys":[{"kty":"EC","crv":"P-256","x":"AQ","y":"Ag","kid":"a"}]}', '[{"kty":"OKP","crv":"Ed25519","x":"AQ"}]',
  '{"keys":[]}', '[{"kty":"oct","k":"AQ"}]', '{"keys":[{"kty":"RSA","n":"AQ","e":"AQAB","d":"AQ"}]}', "{", "[]", "null",
];

const BASE: Record<string, string> = {
  DATABASE_URL: "postgres://u:p@db.example:5432/postgres",
  SUPABASE_JWT_SECRET: "unit-test-jwt-secret-with-at-least-32-chars",
  SECRET_MASTER_KEY: HEX,
};

/** What the object schema alone says: its data, or the ConfigError loadConfig has always thrown. */
function reference(cleaned: Record<string, string>): { data: unknown } | { error: ConfigError } {
  const parsed = configSchema().safeParse(cleaned);
  if (parsed.success) return { data: parsed.data };
  const names = [...new Set(parsed.error.issues.map((i) => String(i.path[0])))];
  const detail = parsed.error.issues
    .map((i) => `${String(i.path[0])} ${i.code === "invalid_type" ? "is required" : i.message}`)
    .join("; ");
  return { error: new ConfigError(names, detail) };
}

function expectSameAsObjectSchema(cleaned: Record<string, string>) {
  const ref = reference(cleaned);
  if ("data" in ref) {
    const got = parseVariables(cleaned);
    expect(got).toStrictEqual(ref.data);
    expect(Object.keys(got).sort()).toEqual(Object.keys(ref.data as object).sort());
  } else {
    let thrown: unknown;
    try {
      parseVariables(cleaned);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).message).toBe(ref.error.message);
    expect((thrown as ConfigError).variables).toEqual(ref.error.variables);
  }
}

describe("config: set variables only, same result as the object schema", () => {
  it("with nothing set but the required variables (defaults, absent optionals)", () => {
    expectSameAsObjectSchema(BASE);
    expectSameAsObjectSchema({});
  });

  it("every variable, every sample value, one at a time", () => {
    for (const name of NAMES) {
      for (const value of SAMPLES) expectSameAsObjectSchema({ ...BASE, [name]: value });
    }
  });

  it("random environments of several variables", () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom(...NAMES), fc.oneof(fc.constantFrom(...SAMPLES), fc.string({ minLength: 1, maxLength: 12 })), { maxKeys: 8 }),
        fc.boolean(),
        (vars, withBase) => expectSameAsObjectSchema(withBase ? { ...BASE, ...vars } : vars),
      ),
      { numRuns: 500 },
    );
  });

  it("defaults are fresh copies: mutating one config does not reach the next", () => {
    const a = loadConfig(BASE);
    a.CORS_ALLOWED_ORIGINS.push("https://mutated.example");
    a.AI_PROVIDER_ORDER.pop();
    const b = loadConfig(BASE);
    expect(b.CORS_ALLOWED_ORIGINS).toEqual([]);
    expect(b.AI_PROVIDER_ORDER).toEqual(["openai", "anthropic", "mistral", "gemini"]);
  });
});

describe("config: OAuth endpoint URLs", () => {
  it("a value that is no URL is a ConfigError naming the variable (it used to throw a TypeError)", () => {
    expect(() => loadConfig({ ...BASE, HOOTSUITE_REVOKE_URL: "not a url" })).toThrow(ConfigError);
    try {
      loadConfig({ ...BASE, HOOTSUITE_REVOKE_URL: "not a url", OAUTH_REDIRECT_URI: "also not" });
    } catch (err) {
      expect((err as ConfigError).variables).toEqual(["HOOTSUITE_REVOKE_URL", "OAUTH_REDIRECT_URI"]);
      expect((err as ConfigError).message).toBe("Invalid configuration: HOOTSUITE_REVOKE_URL Invalid URL; OAUTH_REDIRECT_URI Invalid URL");
    }
  });

  it("http off loopback is still refused with its own message", () => {
    expect(() => loadConfig({ ...BASE, BUFFER_TOKEN_URL: "http://evil.example/token" })).toThrow(
      "BUFFER_TOKEN_URL must be https (http only on 127.0.0.1/localhost)",
    );
  });
});
