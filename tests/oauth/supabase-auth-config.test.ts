// supabase/config.toml: the seed's login providers and password policy, the functions'
// verify_jwt, and every env(...) it names documented in .env.example.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

type Table = Record<string, unknown>;

/** The TOML this file uses: [a.b] tables, key = "string" | number | true/false | ["array"]. */
function parseToml(text: string): Table {
  const root: Table = {};
  let current = root;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\s+#.*$/, "").trim();
    if (!line || line.startsWith("#")) continue;
    const header = /^\[([A-Za-z0-9_.-]+)\]$/.exec(line);
    if (header) {
      current = root;
      for (const part of header[1].split(".")) current = (current[part] ??= {}) as Table;
      continue;
    }
    const kv = /^([A-Za-z0-9_-]+)\s*=\s*(.+)$/.exec(line);
    if (!kv) throw new Error(`unparsed line: ${line}`);
    current[kv[1]] = JSON.parse(kv[2]);
  }
  return root;
}

const configText = readFileSync(new URL("../../supabase/config.toml", import.meta.url), "utf8");
const config = parseToml(configText);
const envExample = readFileSync(new URL("../../.env.example", import.meta.url), "utf8");
const auth = config.auth as Table;

describe("supabase/config.toml auth settings", () => {
  it("the seed's password policy: at least 8 characters, lower, upper, digits and symbols", () => {
    expect(auth.minimum_password_length).toBe(8);
    expect(auth.password_requirements).toBe("lower_upper_letters_digits_symbols");
  });

  it.each(["google", "facebook", "twitter", "linkedin_oidc", "github"])("login provider %s is enabled with env() credentials", (name) => {
    const p = (auth.external as Table)[name] as Table;
    expect(p.enabled).toBe(true);
    expect(p.client_id).toMatch(/^env\([A-Z0-9_]+\)$/);
    expect(p.secret).toMatch(/^env\([A-Z0-9_]+\)$/);
  });

  it("no credential is written in the file: every client_id/secret is an env() reference", () => {
    for (const p of Object.values(auth.external as Record<string, Table>)) {
      for (const k of ["client_id", "secret"]) if (p[k] !== undefined) expect(p[k]).toMatch(/^env\(/);
    }
  });

  it("every env(...) the file names is listed in .env.example", () => {
    const names = [...configText.matchAll(/env\(([A-Z0-9_]+)\)/g)].map((m) => m[1]);
    expect(names.length).toBeGreaterThanOrEqual(10);
    const missing = names.filter((n) => !new RegExp(`^${n}=`, "m").test(envExample));
    expect(missing).toEqual([]);
  });

  it("oauth-callback takes browser redirects (verify_jwt = false); social-post requires a JWT", () => {
    const fns = config.functions as Record<string, Table>;
    expect(fns["oauth-callback"]).toMatchObject({ enabled: true, verify_jwt: false, entrypoint: "../functions/oauth-callback/index.ts" });
    expect(fns["social-post"]).toMatchObject({ enabled: true, verify_jwt: true, entrypoint: "../functions/social-post/index.ts" });
  });
});
