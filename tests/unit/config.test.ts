// shared/config: every failure names the variable and never echoes the value.
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../shared/config/index.ts";

const KEY = "8f1c0d5e2a4b6c7d9e0f112233445566778899aabbccddeeff00112233445566";
const JWT = "unit-test-jwt-secret-with-at-least-32-chars";
const base = (extra: Record<string, string | undefined> = {}) => ({
  DATABASE_URL: "postgres://u:p@db.example:5432/postgres",
  SUPABASE_JWT_SECRET: JWT,
  SECRET_MASTER_KEY: KEY,
  ...extra,
});

function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("loadConfig did not throw");
}

describe("loadConfig failures", () => {
  it("missing SECRET_MASTER_KEY", () => {
    const err = configError(base({ SECRET_MASTER_KEY: undefined }));
    expect(err.variables).toEqual(["SECRET_MASTER_KEY"]);
    expect(err.message).toContain("SECRET_MASTER_KEY");
    expect(err.name).toBe("ConfigError");
  });

  it("empty / whitespace SECRET_MASTER_KEY counts as missing", () => {
    const err = configError(base({ SECRET_MASTER_KEY: "   " }));
    expect(err.variables).toEqual(["SECRET_MASTER_KEY"]);
  });

  it("63-character SECRET_MASTER_KEY, without echoing it", () => {
    const bad = KEY.slice(0, 63);
    const err = configError(base({ SECRET_MASTER_KEY: bad }));
    expect(err.variables).toEqual(["SECRET_MASTER_KEY"]);
    expect(err.message).toContain("SECRET_MASTER_KEY");
    expect(err.message).not.toContain(bad);
    expect(err.message).not.toContain(bad.slice(0, 16));
  });

  it("non-hex SECRET_MASTER_KEY, without echoing it", () => {
    const bad = "zz" + KEY.slice(2);
    const err = configError(base({ SECRET_MASTER_KEY: bad }));
    expect(err.variables).toEqual(["SECRET_MASTER_KEY"]);
    expect(err.message).not.toContain(bad);
    expect(err.message).not.toContain(KEY.slice(2, 18));
  });

  it("bad SECRET_MASTER_KEY_PREVIOUS entry, without echoing any entry", () => {
    const good = `1:${"ab".repeat(32)}`;
    const bad = `2:${"cd".repeat(31)}`; // 62 hex
    const err = configError(base({ SECRET_MASTER_KEY_VERSION: "3", SECRET_MASTER_KEY_PREVIOUS: `${good},${bad}` }));
    expect(err.variables).toEqual(["SECRET_MASTER_KEY_PREVIOUS"]);
    expect(err.message).toContain("SECRET_MASTER_KEY_PREVIOUS");
    expect(err.message).not.toContain("abab");
    expect(err.message).not.toContain("cdcd");
  });

  it("SECRET_MASTER_KEY_PREVIOUS entry without a version", () => {
    const err = configError(base({ SECRET_MASTER_KEY_PREVIOUS: "ef".repeat(32) }));
    expect(err.variables).toEqual(["SECRET_MASTER_KEY_PREVIOUS"]);
    expect(err.message).not.toContain("efef");
  });

  it("SECRET_MASTER_KEY_PREVIOUS repeating the current version", () => {
    const err = configError(base({ SECRET_MASTER_KEY_PREVIOUS: `1:${"ab".repeat(32)}` }));
    expect(err.variables).toEqual(["SECRET_MASTER_KEY_PREVIOUS"]);
    expect(err.message).not.toContain("abab");
  });

  it("missing DATABASE_URL (and SUPABASE_DB_URL)", () => {
    const err = configError(base({ DATABASE_URL: undefined }));
    expect(err.variables).toEqual(["DATABASE_URL"]);
    expect(err.message).toContain("DATABASE_URL");
  });

  it("invalid DATABASE_URL, without echoing it (it may carry a password)", () => {
    const bad = "not a url with password hunter2";
    const err = configError(base({ DATABASE_URL: bad }));
    expect(err.variables).toEqual(["DATABASE_URL"]);
    expect(err.message).not.toContain("hunter2");
  });

  it("missing JWT secret (no SUPABASE_JWT_SECRET, JWT_SECRET, JWKS or SUPABASE_URL)", () => {
    const err = configError(base({ SUPABASE_JWT_SECRET: undefined }));
    expect(err.variables).toEqual(["SUPABASE_JWT_SECRET"]);
    expect(err.message).toContain("SUPABASE_JWT_SECRET");
  });

  it("too-short JWT secret, without echoing it", () => {
    const bad = "short-jwt-secret-xyz";
    const err = configError(base({ SUPABASE_JWT_SECRET: bad }));
    expect(err.variables).toEqual(["SUPABASE_JWT_SECRET"]);
    expect(err.message).not.toContain(bad);
  });

  it("names every bad variable at once and echoes none of them", () => {
    const err = configError({ SECRET_MASTER_KEY: "123", LOG_LEVEL: "verbose-xyz", MAX_BODY_BYTES: "12" });
    expect(err.variables.sort()).toEqual(["LOG_LEVEL", "MAX_BODY_BYTES", "SECRET_MASTER_KEY"]);
    expect(err.message).not.toContain("verbose-xyz");
  });
});

describe("loadConfig values", () => {
  it("applies defaults", () => {
    const c = loadConfig(base());
    expect(c.DB_POOL_MAX).toBe(4);
    expect(c.DB_STATEMENT_TIMEOUT_MS).toBe(10_000);
    expect(c.DB_PREPARE).toBe(true);
    expect(c.JWT_AUDIENCE).toBe("authenticated");
    expect(c.SECRET_MASTER_KEY_VERSION).toBe(1);
    expect(c.SECRET_MASTER_KEY_PREVIOUS).toEqual([]);
    expect(c.CORS_ALLOWED_ORIGINS).toEqual([]);
    expect(c.MAX_BODY_BYTES).toBe(64 * 1024);
    expect(c.SECRETS_RATE_LIMIT_PER_MINUTE).toBe(60);
    expect(c.LOG_LEVEL).toBe("info");
    expect(c.REQUIRE_MFA_FOR_ADMIN_ACTIONS).toBe(true);
    expect(c.databaseUrl).toBe("postgres://u:p@db.example:5432/postgres");
    expect(c.jwtSecret).toBe(JWT);
    expect(c.jwksUrl).toBeUndefined();
    // the raw aliases are folded away
    expect(c).not.toHaveProperty("DATABASE_URL");
    expect(c).not.toHaveProperty("SUPABASE_JWT_SECRET");
  });

  it("parses numbers, booleans and previous keys", () => {
    const c = loadConfig(base({
      DB_POOL_MAX: "3", DB_PREPARE: "false", SECRET_MASTER_KEY_VERSION: "2",
      SECRET_MASTER_KEY_PREVIOUS: ` 1:${"AB".repeat(32)} , `,
    }));
    expect(c.DB_POOL_MAX).toBe(3);
    expect(c.DB_PREPARE).toBe(false);
    expect(c.SECRET_MASTER_KEY_VERSION).toBe(2);
    expect(c.SECRET_MASTER_KEY_PREVIOUS).toEqual([{ version: 1, hex: "AB".repeat(32) }]);
  });

  it("falls back to SUPABASE_DB_URL", () => {
    const c = loadConfig(base({ DATABASE_URL: undefined, SUPABASE_DB_URL: "postgres://fallback@h:6543/db" }));
    expect(c.databaseUrl).toBe("postgres://fallback@h:6543/db");
  });

  it("prefers DATABASE_URL over SUPABASE_DB_URL", () => {
    const c = loadConfig(base({ SUPABASE_DB_URL: "postgres://fallback@h:6543/db" }));
    expect(c.databaseUrl).toBe("postgres://u:p@db.example:5432/postgres");
  });

  it("falls back to JWT_SECRET", () => {
    const other = "another-jwt-secret-which-is-long-enough";
    const c = loadConfig(base({ SUPABASE_JWT_SECRET: undefined, JWT_SECRET: other }));
    expect(c.jwtSecret).toBe(other);
  });

  it("derives the JWKS URL from SUPABASE_URL (and that alone satisfies the JWT requirement)", () => {
    const c = loadConfig(base({ SUPABASE_JWT_SECRET: undefined, SUPABASE_URL: "https://abc.supabase.co" }));
    expect(c.jwksUrl).toBe("https://abc.supabase.co/auth/v1/.well-known/jwks.json");
    expect(c.jwtSecret).toBeUndefined();
  });

  it("an explicit SUPABASE_JWKS_URL wins over the derived one", () => {
    const c = loadConfig(base({ SUPABASE_URL: "https://abc.supabase.co", SUPABASE_JWKS_URL: "https://keys.example/jwks.json" }));
    expect(c.jwksUrl).toBe("https://keys.example/jwks.json");
  });

  describe("SUPABASE_JWKS (the project's public keys inline)", () => {
    const ec = { kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", kid: "ec-1", alg: "ES256" };
    const rsa = { kty: "RSA", n: "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw", e: "AQAB", kid: "rsa-1" };

    it("accepts {\"keys\": [...]} and a bare array, and satisfies the JWT requirement alone", () => {
      const fromObject = loadConfig(base({ SUPABASE_JWT_SECRET: undefined, SUPABASE_JWKS: JSON.stringify({ keys: [ec, rsa] }) }));
      expect(fromObject.SUPABASE_JWKS).toEqual({ keys: [ec, rsa] });
      expect(fromObject.jwtSecret).toBeUndefined();
      expect(fromObject.jwksUrl).toBeUndefined();
      expect(loadConfig(base({ SUPABASE_JWKS: JSON.stringify([ec]) })).SUPABASE_JWKS).toEqual({ keys: [ec] });
    });

    it("refuses anything but public keys, naming the variable and never echoing the value", () => {
      const bad = [
        "{not json",
        JSON.stringify({ keys: [] }),
        JSON.stringify({ keys: [{ ...ec, d: "c29tZS1wcml2YXRlLXBhcnQ" }] }),
        JSON.stringify([{ kty: "oct", k: "c2VjcmV0LWhtYWMta2V5LW1hdGVyaWFs" }]),
        JSON.stringify({ keys: ["ec-1"] }),
        JSON.stringify({ keys: [{ ...rsa, kty: undefined }] }),
        JSON.stringify({ notKeys: [ec] }),
      ];
      for (const value of bad) {
        const err = configError(base({ SUPABASE_JWKS: value }));
        expect(err.variables, value).toEqual(["SUPABASE_JWKS"]);
        expect(err.message).toContain("JSON Web Key Set of public keys");
        expect(err.message).not.toContain("c29tZS1wcml2YXRlLXBhcnQ");
        expect(err.message).not.toContain("c2VjcmV0LWhtYWMta2V5LW1hdGVyaWFs");
        expect(err.message).not.toContain(ec.x);
      }
    });
  });

  it("parses the CORS list (trimmed, empties dropped)", () => {
    const c = loadConfig(base({ CORS_ALLOWED_ORIGINS: " https://a.example ,https://b.example,, " }));
    expect(c.CORS_ALLOWED_ORIGINS).toEqual(["https://a.example", "https://b.example"]);
  });

  it("ignores unknown variables and does not mutate its input", () => {
    const env = base({ UNRELATED: "x" });
    const copy = { ...env };
    loadConfig(env);
    expect(env).toEqual(copy);
  });
});
