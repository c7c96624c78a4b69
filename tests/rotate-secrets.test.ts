// scripts/rotate-secrets.ts against the real test database: rotation to a new master key
// version, idempotence, resumption, skipped (locked) rows, undecryptable rows, and the CLI.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, inject } from "vitest";
import postgres from "postgres";
import { countPending, rotateSecrets } from "../scripts/rotate-secrets.ts";
import { prepareDatabase } from "../scripts/db/migrate.ts";
import { bytesToBase64, base64ToBytes, createKeyring, seal, type Keyring } from "../shared/crypto/index.ts";
import { openSecret, sealSecret, type StoredSecret } from "../shared/secrets/index.ts";
import { test as fixtures } from "./support/fixtures.ts";
import { TEST_MASTER_KEY, testDeps } from "./support/harness.ts";
import { createTenant } from "./support/tenancy.ts";
import { DistributorKeyCache, rewrapDistributorKeys } from "../shared/tenancy/keys.ts";
import { openMessageContent, sealMessageContent } from "../shared/messaging/index.ts";

const KEY_V2 = "5d".repeat(32);
const LEGACY = { encrypted_value: "5qm0QlzWdgpFpWmIHVG02vVEwNIdKeTOWqsKRJd4R7+/Im2UsxSPdqV8", initialization_vector: "ChssPU5fYHGCk6S1" };
const LEGACY_PLAINTEXT = "sk-proj-legacy-Compat-0042";

type Row = StoredSecret & { id: string; user_id: string; service_name: string; updated_at: Date };

/** The file's helpers, over its superuser connection and the old deployment's keyring. */
function helpers(sql: postgres.Sql, v1: Keyring) {
  async function newUsers(n: number): Promise<string[]> {
    const ids = Array.from({ length: n }, () => crypto.randomUUID());
    await sql`insert into auth.users ${sql(ids.map((id) => ({ id, email: `${id.slice(0, 8)}@rotate.test` })))}`;
    return ids;
  }

  async function insertSealed(userId: string, service: string, value: string, o: { aad?: boolean; ring?: Keyring } = {}): Promise<string> {
    const ring = o.ring ?? v1;
    const s = o.aad === false ? await seal(ring, value) : await sealSecret(ring, userId, service, value);
    const [{ id }] = await sql`insert into public.user_secrets (user_id, service_name, encrypted_value, initialization_vector, key_version, aad_bound)
      values (${userId}, ${service}, ${s.encryptedValue}, ${s.iv}, ${s.keyVersion}, ${o.aad !== false}) returning id`;
    return id;
  }

  async function insertLegacy(userId: string, service = "openai_api_key_encrypted"): Promise<string> {
    const [{ id }] = await sql`insert into public.user_secrets (user_id, service_name, encrypted_value, initialization_vector)
      values (${userId}, ${service}, ${LEGACY.encrypted_value}, ${LEGACY.initialization_vector}) returning id`;
    return id;
  }

  const rowsOf = (userIds: string[]) =>
    sql<Row[]>`select id, user_id, service_name, encrypted_value, initialization_vector, key_version, aad_bound, updated_at
               from public.user_secrets where user_id = any(${userIds}::uuid[]) order by id`;

  return { newUsers, insertSealed, insertLegacy, rowsOf };
}

const root = join(import.meta.dirname, "..");

const test = fixtures
  /** The old deployment: version 1 only. */
  .extend("v1", { scope: "file" }, async () => await createKeyring({ version: 1, hex: TEST_MASTER_KEY }))
  /** The new deployment: current 2, previous 1. */
  .extend("rotating", { scope: "file" }, async () => await createKeyring({ version: 2, hex: KEY_V2 }, [{ version: 1, hex: TEST_MASTER_KEY }]))
  /** After the old key is retired. */
  .extend("v2only", { scope: "file" }, async () => await createKeyring({ version: 2, hex: KEY_V2 }))
  .extend("helpers", { scope: "file" }, async ({ sql, v1 }) => helpers(sql, v1))
  .extend("newUsers", { scope: "file" }, async ({ helpers: h }) => h.newUsers)
  .extend("insertSealed", { scope: "file" }, async ({ helpers: h }) => h.insertSealed)
  .extend("insertLegacy", { scope: "file" }, async ({ helpers: h }) => h.insertLegacy)
  .extend("rowsOf", { scope: "file" }, async ({ helpers: h }) => h.rowsOf)
  /** The CLI's own database (migrated), dropped after the file: its URL and a connection to it. */
  .extend("url", { scope: "file" }, async ({ sql }, { onCleanup }) => {
    const dbName = `rotate_cli_${crypto.randomUUID().slice(0, 8)}`;
    await sql.unsafe(`create database ${dbName}`);
    onCleanup(async () => {
      await sql.unsafe(`drop database if exists ${dbName} with (force)`);
    });
    const u = new URL(inject("databaseUrl"));
    u.pathname = `/${dbName}`;
    await prepareDatabase(u.href);
    return u.href;
  })
  .extend("cli", { scope: "file" }, async ({ url }, { onCleanup }) => {
    const cli = postgres(url, { max: 1, onnotice: () => {} });
    onCleanup(() => cli.end());
    return cli;
  })
  /** npm run secrets:rotate against the CLI's database, rotating from version 1 to 2. */
  .extend("runCli", { scope: "file" }, async ({ url }) => async (args: string[] = []): Promise<{ code: number; out: string }> => {
    const env = {
      ...process.env,
      DATABASE_URL: url, SUPABASE_DB_URL: "", SUPABASE_JWT_SECRET: "cli-test-jwt-secret-that-is-32-chars-long", JWT_SECRET: "",
      SUPABASE_URL: "", SUPABASE_JWKS_URL: "",
      SECRET_MASTER_KEY: KEY_V2, SECRET_MASTER_KEY_VERSION: "2", SECRET_MASTER_KEY_PREVIOUS: `1:${TEST_MASTER_KEY}`,
      LOG_LEVEL: "silent",
    };
    try {
      const { stdout, stderr } = await promisify(execFile)(join(root, "node_modules/.bin/tsx"), ["scripts/rotate-secrets.ts", ...args], { cwd: root, env });
      return { code: 0, out: stdout + stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, out: e.stdout + e.stderr };
    }
  });

describe("rotateSecrets", () => {
  test("re-encrypts version-1 rows (incl. the legacy no-AAD row) under version 2 with AAD", async ({ sql, v1, rotating, v2only, newUsers, insertSealed, insertLegacy, rowsOf }) => {
    const [u1, u2, outsider] = await newUsers(3);
    const expected = new Map<string, string>([
      [await insertLegacy(u1), LEGACY_PLAINTEXT],
      [await insertSealed(u1, "gemini_api_key_encrypted", "gem-ü-1"), "gem-ü-1"],
      [await insertSealed(u1, "anthropic_api_key_encrypted", "ant-no-aad", { aad: false }), "ant-no-aad"],
      [await insertSealed(u2, "openai_api_key_encrypted", "u2-openai"), "u2-openai"],
      [await insertSealed(u2, "tiktok_oauth_token", "x".repeat(8 * 1024)), "x".repeat(8 * 1024)],
    ]);
    const outsiderId = await insertSealed(outsider, "openai_api_key_encrypted", "not in scope");
    const before = await rowsOf([u1, u2]);
    expect(before.every((r) => r.key_version === 1)).toBe(true);

    const r = await rotateSecrets(sql, rotating, { userIds: [u1, u2] });
    expect(r).toMatchObject({ reencrypted: 5, failed: 0, failedIds: [], remaining: 0 });

    const after = await rowsOf([u1, u2]);
    expect(after).toHaveLength(5);
    for (const row of after) {
      expect(row.key_version).toBe(2);
      expect(row.aad_bound).toBe(true);
      expect(base64ToBytes(row.initialization_vector)).toHaveLength(12);
      // readable with ONLY the new key, and only on its own row
      expect(await openSecret(v2only, row, row.user_id, row.service_name)).toBe(expected.get(row.id));
      const prev = before.find((b) => b.id === row.id)!;
      expect(row.encrypted_value).not.toBe(prev.encrypted_value);
      expect(row.initialization_vector).not.toBe(prev.initialization_vector);
      expect(row.updated_at).toEqual(prev.updated_at); // the secret itself did not change
    }
    await expect(openSecret(v2only, after[0], crypto.randomUUID(), after[0].service_name)).rejects.toThrow();
    // the old deployment can no longer read them; the outsider's row was not touched
    await expect(openSecret(v1, after[0], after[0].user_id, after[0].service_name)).rejects.toThrow();
    const [out] = await sql<Row[]>`select * from public.user_secrets where id = ${outsiderId}`;
    expect(out.key_version).toBe(1);
    expect(await openSecret(v1, out, outsider, "openai_api_key_encrypted")).toBe("not in scope");

    // a second run changes nothing
    const again = await rotateSecrets(sql, rotating, { userIds: [u1, u2] });
    expect(again).toMatchObject({ reencrypted: 0, failed: 0, remaining: 0 });
    expect(await rowsOf([u1, u2])).toEqual(after);
  });

  test("an interrupted run (one batch) resumes and completes", async ({ sql, rotating, v2only, newUsers, insertSealed, insertLegacy, rowsOf }) => {
    const users = await newUsers(3);
    for (const [i, u] of users.entries()) {
      await insertSealed(u, "openai_api_key_encrypted", `v-${i}-a`);
      await insertSealed(u, "later_oauth_token", `v-${i}-b`);
    }
    await insertLegacy(users[0], "mistral_api_key_encrypted");
    expect(await countPending(sql, rotating, users)).toBe(7);

    const first = await rotateSecrets(sql, rotating, { userIds: users, batchSize: 2, maxBatches: 1 });
    expect(first).toMatchObject({ reencrypted: 2, failed: 0, remaining: 5, batches: 1 });
    // "crash" here: mixed versions are fine, the rotating deployment reads both
    const mid = await rowsOf(users);
    expect(mid.filter((r) => r.key_version === 2)).toHaveLength(2);
    for (const row of mid) expect(await openSecret(rotating, row, row.user_id, row.service_name)).toMatch(/^(v-\d-[ab]|sk-proj-legacy-Compat-0042)$/);

    const batchSizes: number[] = [];
    const rest = await rotateSecrets(sql, rotating, { userIds: users, batchSize: 2, onBatch: (b) => batchSizes.push(b.rows) });
    expect(rest).toMatchObject({ reencrypted: 5, failed: 0, remaining: 0 });
    expect(batchSizes).toEqual([2, 2, 1]);
    for (const row of await rowsOf(users)) {
      expect(row).toMatchObject({ key_version: 2, aad_bound: true });
      expect(await openSecret(v2only, row, row.user_id, row.service_name)).toMatch(/^(v-\d-[ab]|sk-proj-legacy-Compat-0042)$/);
    }
    expect((await rotateSecrets(sql, rotating, { userIds: users })).reencrypted).toBe(0);
  });

  test("skips rows a concurrent writer holds, and picks them up on the next run", async ({ sql, rotating, newUsers, insertSealed }) => {
    const [u] = await newUsers(1);
    const lockedId = await insertSealed(u, "openai_api_key_encrypted", "locked");
    await insertSealed(u, "gemini_api_key_encrypted", "free");
    const writer = postgres(inject("databaseUrl"), { max: 1, onnotice: () => {} });
    try {
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let locked!: () => void;
      const isLocked = new Promise<void>((r) => (locked = r));
      const tx = writer.begin(async (t) => {
        await t`select id from public.user_secrets where id = ${lockedId} for update`;
        locked();
        await held;
      });
      await isLocked;
      const r = await rotateSecrets(sql, rotating, { userIds: [u], maxPasses: 2 });
      expect(r).toMatchObject({ reencrypted: 1, failed: 0, remaining: 1 });
      release();
      await tx;
    } finally {
      await writer.end();
    }
    expect(await rotateSecrets(sql, rotating, { userIds: [u] })).toMatchObject({ reencrypted: 1, remaining: 0 });
  });

  test("a writer that replaced the value after rotation is not overwritten; new writes need no rotation", async ({ sql, rotating, v2only, newUsers, insertSealed }) => {
    const [u] = await newUsers(1);
    const id = await insertSealed(u, "openai_api_key_encrypted", "old");
    await rotateSecrets(sql, rotating, { userIds: [u] });
    // the live function (rotating keyring) saves a new value: already current, nothing to do
    const s = await sealSecret(rotating, u, "openai_api_key_encrypted", "new");
    await sql`update public.user_secrets set encrypted_value = ${s.encryptedValue}, initialization_vector = ${s.iv}, key_version = 2, aad_bound = true where id = ${id}`;
    expect(await rotateSecrets(sql, rotating, { userIds: [u] })).toMatchObject({ reencrypted: 0, remaining: 0 });
    const [row] = await sql<Row[]>`select * from public.user_secrets where id = ${id}`;
    expect(await openSecret(v2only, row, u, "openai_api_key_encrypted")).toBe("new");
  });

  test("rows that do not decrypt are reported by id and left untouched", async ({ sql, v1, rotating, newUsers, insertSealed, insertLegacy, rowsOf }) => {
    const [u, other] = await newUsers(2);
    const good = await insertLegacy(u);
    const unknownVersion = await insertSealed(u, "gemini_api_key_encrypted", "v7", { ring: await createKeyring({ version: 7, hex: "77".repeat(32) }) });
    const tampered = await insertSealed(u, "anthropic_api_key_encrypted", "tampered");
    const bytes = base64ToBytes((await sql`select encrypted_value from public.user_secrets where id = ${tampered}`)[0].encrypted_value);
    bytes[0] ^= 1;
    await sql`update public.user_secrets set encrypted_value = ${bytesToBase64(bytes)} where id = ${tampered}`;
    // a ciphertext copied from another user's row (AAD names the other user)
    const foreign = await sealSecret(v1, other, "mistral_api_key_encrypted", "someone else's");
    const [{ id: copied }] = await sql`insert into public.user_secrets (user_id, service_name, encrypted_value, initialization_vector, key_version, aad_bound)
      values (${u}, 'mistral_api_key_encrypted', ${foreign.encryptedValue}, ${foreign.iv}, 1, true) returning id`;
    const bad = [unknownVersion, tampered, copied].sort();
    const before = new Map((await rowsOf([u])).map((r) => [r.id, r]));

    const r = await rotateSecrets(sql, rotating, { userIds: [u], batchSize: 2 });
    expect(r).toMatchObject({ reencrypted: 1, failed: 3, failedIds: bad, remaining: 3 });
    for (const row of await rowsOf([u])) {
      if (row.id === good) expect(row.key_version).toBe(2);
      else expect(row).toEqual(before.get(row.id));
    }
    expect(await rotateSecrets(sql, rotating, { userIds: [u] })).toMatchObject({ reencrypted: 0, failed: 3, failedIds: bad, remaining: 3 });
  });

  test("refuses a bad batch size", async ({ sql, rotating }) => {
    await expect(rotateSecrets(sql, rotating, { batchSize: 0, userIds: [] })).rejects.toThrow(/batchSize/);
  });
});

describe("rewrapDistributorKeys", () => {
  test("re-wraps distributor keys under the new master key; tenant data stays readable with only the new key", async ({ sql, rotating, v2only }) => {
    const deps = await testDeps(); // master key version 1
    try {
      const t = await createTenant(deps, sql, "Rewrap Co");
      const keysV1 = await deps.tenantKeys.get(t.id);
      const messageId = crypto.randomUUID();
      const sealed = await sealMessageContent(keysV1, messageId, { text: "sealed before the rotation" });
      await expect(new DistributorKeyCache(sql, v2only).get(t.id)).rejects.toThrow();

      const first = await rewrapDistributorKeys(sql, rotating, { distributorIds: [t.id] });
      expect(first).toEqual({ rewrapped: 2, failedIds: [], remaining: 0 });
      const rows = await sql`select master_key_version from public.encryption_keys where distributor_id = ${t.id}`;
      expect(rows.map((r) => r.master_key_version)).toEqual([2, 2]);

      const keysV2 = await new DistributorKeyCache(sql, v2only).get(t.id);
      expect(await openMessageContent(keysV2, messageId, sealed)).toEqual({ text: "sealed before the rotation" });
      expect(await keysV2.hash("phone:15550001")).toBe(await keysV1.hash("phone:15550001"));

      expect(await rewrapDistributorKeys(sql, rotating, { distributorIds: [t.id] })).toEqual({ rewrapped: 0, failedIds: [], remaining: 0 });
    } finally {
      await deps.db.end();
    }
  });
});

describe("npm run secrets:rotate (CLI) on its own database", () => {
  test("rotates, reports, exits 0; a second run re-encrypts 0; an undecryptable row gives exit 1 with its id", async ({ v1, v2only, cli, runCli }) => {
    const [a, b] = [crypto.randomUUID(), crypto.randomUUID()];
    await cli`insert into auth.users (id) values (${a}), (${b})`;
    await cli`insert into public.user_secrets (user_id, service_name, encrypted_value, initialization_vector)
              values (${a}, 'openai_api_key_encrypted', ${LEGACY.encrypted_value}, ${LEGACY.initialization_vector})`;
    for (const [u, svc] of [[a, "gemini_api_key_encrypted"], [b, "openai_api_key_encrypted"]]) {
      const s = await sealSecret(v1, u, svc, `${svc}-value`);
      await cli`insert into public.user_secrets (user_id, service_name, encrypted_value, initialization_vector, key_version, aad_bound)
                values (${u}, ${svc}, ${s.encryptedValue}, ${s.iv}, 1, true)`;
    }

    const dry = await runCli(["--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.out).toContain("3 rows would be re-encrypted");

    const first = await runCli(["--batch-size", "2"]);
    expect(first.out).toContain("3 rows re-encrypted");
    expect(first.out).toContain("0 rows remaining");
    expect(first.code).toBe(0);
    expect(first.out).not.toContain(LEGACY_PLAINTEXT);
    expect(first.out).not.toContain(TEST_MASTER_KEY);
    expect(first.out).not.toContain(KEY_V2);
    for (const row of await cli<Row[]>`select * from public.user_secrets`) {
      expect(row).toMatchObject({ key_version: 2, aad_bound: true });
      await expect(openSecret(v2only, row, row.user_id, row.service_name)).resolves.toBeTruthy();
    }

    const second = await runCli();
    expect(second.code).toBe(0);
    expect(second.out).toContain("0 rows re-encrypted");

    const [{ id: bad }] = await cli`insert into public.user_secrets (user_id, service_name, encrypted_value, initialization_vector, key_version)
      values (${b}, 'later_oauth_token', ${LEGACY.encrypted_value}, ${LEGACY.initialization_vector}, 9) returning id`;
    const third = await runCli();
    expect(third.code).toBe(1);
    expect(third.out).toContain("0 rows re-encrypted");
    expect(third.out).toContain(bad);
    expect(third.out).toContain("1 rows failed to decrypt");
  }, 120_000);

  test("a configuration error names the variable, not the value, and exits 2", async ({ url }) => {
    const r = await promisify(execFile)(join(root, "node_modules/.bin/tsx"), ["scripts/rotate-secrets.ts"], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: url, SUPABASE_JWT_SECRET: "cli-test-jwt-secret-that-is-32-chars-long", SECRET_MASTER_KEY: "abc123-not-a-key" },
    }).then(() => ({ code: 0, out: "" }), (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }));
    expect(r.code).toBe(2);
    expect(r.out).toContain("SECRET_MASTER_KEY");
    expect(r.out).not.toContain("abc123-not-a-key");
  }, 60_000);
});
