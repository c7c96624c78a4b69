// Master-key rotation, without downtime: public.user_secrets rows are re-encrypted, and the
// distributors' data/lookup keys in public.encryption_keys are re-wrapped.
//
//   1. Deploy every function with the new key as current and the old one still readable:
//        SECRET_MASTER_KEY=<new>  SECRET_MASTER_KEY_VERSION=2  SECRET_MASTER_KEY_PREVIOUS=1:<old>
//      (new writes now use version 2; rows under version 1 still open).
//   2. npm run secrets:rotate   (same environment; reads .env.local too)
//      Re-encrypts every row whose key_version is not the current one, or that is not yet bound
//      to its row by AAD (rows from the seed's function), under the current key with AAD.
//   3. Once it reports "0 rows remaining", drop the old key from SECRET_MASTER_KEY_PREVIOUS.
//
// Work happens in batches (one transaction each, `for update skip locked`, ordered by id), and
// each row is written only if its ciphertext is still the one that was read, so it is safe next
// to live writers, can be interrupted at any point and simply run again, and a second run finds
// nothing to do. Rows that do not decrypt are left untouched and reported by id (exit status 1).
//
// Options: --batch-size N (default 200), --max-batches N (stop after N batches), --dry-run.
import { pathToFileURL } from "node:url";
import postgres from "postgres";
import { ConfigError, loadConfig } from "../shared/config/index.ts";
import { createKeyring, type Keyring } from "../shared/crypto/index.ts";
import { openSecret, sealSecret, type StoredSecret } from "../shared/secrets/index.ts";
import { rewrapDistributorKeys } from "../shared/tenancy/keys.ts";
import { loadLocalEnv } from "./lib/env.ts";

export interface RotateOptions {
  /** Rows per batch/transaction (default 200). */
  batchSize?: number;
  /** Stop after this many batches (to bound one run; the next run resumes). */
  maxBatches?: number;
  /** Restrict the rotation to these users (tests). */
  userIds?: string[];
  /** Full passes over the table; rows skipped because a writer held them are retried (default 3). */
  maxPasses?: number;
  /** Called after every batch that found rows. */
  onBatch?: (b: { batch: number; rows: number; reencrypted: number; failed: number }) => void;
}

export interface RotateResult {
  /** Rows re-encrypted under the current key version, with AAD. */
  reencrypted: number;
  /** Rows that did not decrypt (left untouched). */
  failed: number;
  failedIds: string[];
  /** Rows still not at the current version with AAD after this run (failed ones included). */
  remaining: number;
  batches: number;
}

type Row = StoredSecret & { id: string; user_id: string | null; service_name: string };

const MIN_UUID = "00000000-0000-0000-0000-000000000000";

/** Rows still needing rotation (in scope). */
export async function countPending(sql: postgres.Sql, keyring: Keyring, userIds?: string[]): Promise<number> {
  const [{ n }] = await sql<{ n: number }[]>`
    select count(*)::int as n from public.user_secrets
    where (key_version <> ${keyring.currentVersion} or not aad_bound)
      ${userIds ? sql`and user_id = any(${userIds}::uuid[])` : sql``}`;
  return n;
}

export async function rotateSecrets(sql: postgres.Sql, keyring: Keyring, opts: RotateOptions = {}): Promise<RotateResult> {
  const batchSize = opts.batchSize ?? 200;
  const maxPasses = opts.maxPasses ?? 3;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error("batchSize must be a positive integer");
  if (!keyring.keys.has(keyring.currentVersion)) throw new Error("the keyring has no current key");
  const current = keyring.currentVersion;
  const scope = opts.userIds ? sql`and user_id = any(${opts.userIds}::uuid[])` : sql``;
  const failedIds = new Set<string>();
  let reencrypted = 0;
  let batches = 0;
  const budgetLeft = () => opts.maxBatches === undefined || batches < opts.maxBatches;

  passes: for (let pass = 0; pass < maxPasses; pass++) {
    let after = MIN_UUID;
    for (;;) {
      if (!budgetLeft()) break passes;
      batches++;
      const batch = await sql.begin(async (tx) => {
        const rows = await tx<Row[]>`
          select id, user_id, service_name, encrypted_value, initialization_vector, key_version, aad_bound
          from public.user_secrets
          where (key_version <> ${current} or not aad_bound) and id > ${after}::uuid ${scope}
          order by id
          limit ${batchSize}
          for update skip locked`;
        let done = 0, failed = 0;
        const updates: PromiseLike<readonly { id: string }[]>[] = [];
        for (const row of rows) {
          if (failedIds.has(row.id)) continue;
          let plaintext: string;
          try {
            if (!row.user_id) throw new Error("row has no user");
            plaintext = await openSecret(keyring, row, row.user_id, row.service_name);
          } catch {
            failedIds.add(row.id);
            failed++;
            continue;
          }
          const sealed = await sealSecret(keyring, row.user_id, row.service_name, plaintext);
          // Written only if nobody changed the row since it was read.
          updates.push(tx<{ id: string }[]>`
            update public.user_secrets
            set encrypted_value = ${sealed.encryptedValue}, initialization_vector = ${sealed.iv},
                key_version = ${sealed.keyVersion}, aad_bound = true
            where id = ${row.id} and encrypted_value = ${row.encrypted_value}
              and initialization_vector = ${row.initialization_vector} and key_version = ${row.key_version}
              and aad_bound = ${row.aad_bound}
            returning id`);
        }
        for (const r of await Promise.all(updates)) done += r.length;
        return { rows: rows.length, last: rows.at(-1)?.id, done, failed };
      });
      if (batch.rows === 0) break;
      reencrypted += batch.done;
      opts.onBatch?.({ batch: batches, rows: batch.rows, reencrypted: batch.done, failed: batch.failed });
      after = batch.last!;
    }
    // Anything left that is not a known failure was skipped (locked by a writer) or written
    // concurrently under an old key: go round again.
    if ((await countPending(sql, keyring, opts.userIds)) <= failedIds.size) break;
  }

  const remaining = await countPending(sql, keyring, opts.userIds);
  return { reencrypted, failed: failedIds.size, failedIds: [...failedIds].sort(), remaining, batches };
}

function intFlag(args: string[], name: string): number | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = Number(args[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} needs a positive integer`);
  return v;
}

async function main(argv: string[]): Promise<number> {
  let config;
  try {
    config = loadConfig(loadLocalEnv());
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`[rotate] ${err.message}`);
      return 2;
    }
    throw err;
  }
  const keyring = await createKeyring(
    { version: config.SECRET_MASTER_KEY_VERSION, hex: config.SECRET_MASTER_KEY },
    config.SECRET_MASTER_KEY_PREVIOUS,
  );
  const sql = postgres(config.databaseUrl, {
    max: 2, prepare: config.DB_PREPARE, onnotice: () => {},
    connection: { application_name: "rotate-secrets", statement_timeout: 60_000 },
  });
  try {
    const versions = [...keyring.keys.keys()].sort((a, b) => a - b).join(", ");
    console.log(`[rotate] current key version ${keyring.currentVersion}; readable versions: ${versions}`);
    if (argv.includes("--dry-run")) {
      const [{ keys }] = await sql<{ keys: number }[]>`select count(*)::int as keys from public.encryption_keys where master_key_version <> ${keyring.currentVersion}`;
      console.log(`[rotate] ${await countPending(sql, keyring)} rows would be re-encrypted, ${keys} distributor keys re-wrapped (dry run)`);
      return 0;
    }
    const r = await rotateSecrets(sql, keyring, {
      batchSize: intFlag(argv, "--batch-size"),
      maxBatches: intFlag(argv, "--max-batches"),
      onBatch: (b) => console.log(`[rotate] batch ${b.batch}: ${b.reencrypted}/${b.rows} re-encrypted${b.failed ? `, ${b.failed} failed` : ""}`),
    });
    console.log(`[rotate] ${r.reencrypted} rows re-encrypted`);
    if (r.failed > 0) console.error(`[rotate] ${r.failed} rows failed to decrypt and were left untouched: ${r.failedIds.join(", ")}`);
    console.log(`[rotate] ${r.remaining} rows remaining${r.remaining > r.failed ? " (run again to finish)" : ""}`);
    const k = await rewrapDistributorKeys(sql, keyring);
    console.log(`[rotate] ${k.rewrapped} distributor keys re-wrapped; ${k.remaining} remaining`);
    if (k.failedIds.length) console.error(`[rotate] ${k.failedIds.length} distributor keys did not open and were left untouched: ${k.failedIds.join(", ")}`);
    return r.failed > 0 || k.failedIds.length > 0 ? 1 : 0;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      // Class and code only: a driver error's message can carry connection details.
      const e = err as { name?: string; code?: string; message?: string };
      console.error(`[rotate] failed: ${e.name ?? "Error"}${e.code ? ` (${e.code})` : ""}${err instanceof Error && !e.code ? `: ${e.message}` : ""}`);
      process.exit(1);
    },
  );
}
