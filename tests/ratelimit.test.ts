// The Postgres rate limiter as used through shared/db: limit, Retry-After, atomicity under
// concurrency, independence of keys, and no commit for rejected requests.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import postgres from "postgres";
import { createDb, type Db, type RateLimitState } from "../shared/db/index.ts";
import { ApiError } from "../shared/http/errors.ts";

const SCHEMA = "unit_ratelimit_scratch";
let db: Db;
let admin: postgres.Sql;
const run = crypto.randomUUID().slice(0, 8);
const key = (name: string) => `unit-rl:${run}:${name}`;

/** Stay inside one fixed window: wait if we are within `margin` seconds of a boundary. */
async function awayFromBoundary(windowSeconds: number, margin = 4) {
  const s = (Date.now() / 1000) % windowSeconds;
  if (s > windowSeconds - margin) await new Promise((r) => setTimeout(r, (windowSeconds - s + 0.2) * 1000));
}

async function rowsFor(tag: string): Promise<number> {
  const [{ n }] = await admin`select count(*)::int as n from ${admin(SCHEMA)}.writes where tag = ${tag}`;
  return n;
}

beforeAll(async () => {
  admin = postgres(inject("databaseUrl"), { max: 1, onnotice: () => {} });
  await admin.unsafe(`
    drop schema if exists ${SCHEMA} cascade;
    create schema ${SCHEMA};
    grant usage on schema ${SCHEMA} to authenticated;
    create table ${SCHEMA}.writes (id serial primary key, tag text not null);
    grant insert on ${SCHEMA}.writes to authenticated;
    grant usage on sequence ${SCHEMA}.writes_id_seq to authenticated;`);
  db = createDb({ url: inject("databaseUrl"), max: 10 });
});

afterAll(async () => {
  await db?.end();
  await admin?.unsafe(`drop schema if exists ${SCHEMA} cascade`);
  await admin?.end();
});

describe("withService rate limit", () => {
  it("allows `limit` requests and rejects the next with rate_limited + Retry-After", async () => {
    await awayFromBoundary(60);
    const rule = { key: key("basic"), limit: 3, windowSeconds: 60 };
    const states: RateLimitState[] = [];
    for (let i = 0; i < 3; i++) {
      const v = await db.withService(async (tx) => (await tx`select ${i}::int as i`)[0].i, { rateLimit: rule, onRateLimit: (s) => states.push(s) });
      expect(v).toBe(i);
    }
    expect(states.map((s) => s.remaining)).toEqual([2, 1, 0]);
    expect(states.every((s) => s.limit === 3 && s.reset >= 1 && s.reset <= 60)).toBe(true);

    let called = false;
    const err = await db.withService(async (tx) => {
      called = true;
      return await tx`select 1`;
    }, { rateLimit: rule, onRateLimit: (s) => states.push(s) }).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe("rate_limited");
    expect((err as ApiError).status).toBe(429);
    const retry = Number((err as ApiError).headers["Retry-After"]);
    expect(Number.isInteger(retry)).toBe(true);
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(60);
    expect((err as ApiError).headers["RateLimit-Remaining"]).toBe("0");
    expect((err as ApiError).headers["RateLimit-Limit"]).toBe("3");
    expect(states).toHaveLength(3); // no callback for the rejected request
    expect(called).toBe(true); // fn ran (pipelined) but its work is discarded
  });

  it("the same rule works through withUser", async () => {
    await awayFromBoundary(60);
    const user = { id: crypto.randomUUID(), claims: { role: "authenticated" } };
    const rule = { key: key("user"), limit: 2, windowSeconds: 60 };
    const call = () => db.withUser(user, async (tx) => (await tx`select auth.uid() as uid`)[0].uid, { rateLimit: rule });
    expect(await call()).toBe(user.id);
    expect(await call()).toBe(user.id);
    const err = await call().catch((e) => e);
    expect((err as ApiError).code).toBe("rate_limited");
  });

  it("a rejected request never commits fn's writes (withService and withUser)", async () => {
    await awayFromBoundary(60);
    const rule = { key: key("nocommit"), limit: 1, windowSeconds: 60 };
    const write = (tag: string) => db.withService((tx) => tx`insert into ${tx(SCHEMA)}.writes (tag) values (${tag})`, { rateLimit: rule });
    await write("allowed");
    expect(await rowsFor("allowed")).toBe(1);
    const err = await write("rejected").catch((e) => e);
    expect((err as ApiError).code).toBe("rate_limited");
    expect(await rowsFor("rejected")).toBe(0);

    // fn that swallows its own SQL errors and "succeeds": still rejected, still nothing written
    const err2 = await db.withService(async (tx) => {
      await tx`insert into ${tx(SCHEMA)}.writes (tag) values ('swallowed')`.catch(() => {});
      return "ok";
    }, { rateLimit: rule }).catch((e) => e);
    expect((err2 as ApiError).code).toBe("rate_limited");
    expect(await rowsFor("swallowed")).toBe(0);

    const user = { id: crypto.randomUUID(), claims: {} };
    const urule = { key: key("nocommit-user"), limit: 1, windowSeconds: 60 };
    const uwrite = (tag: string) => db.withUser(user, (tx) => tx`insert into ${tx(SCHEMA)}.writes (tag) values (${tag})`, { rateLimit: urule });
    await uwrite("user-allowed");
    expect((await uwrite("user-rejected").catch((e) => e) as ApiError).code).toBe("rate_limited");
    expect(await rowsFor("user-allowed")).toBe(1);
    expect(await rowsFor("user-rejected")).toBe(0);
  });

  it("is atomic: 20 concurrent requests with limit 10 on a fresh key allow exactly 10", async () => {
    await awayFromBoundary(3600, 30);
    const rule = { key: key("concurrent"), limit: 10, windowSeconds: 3600 };
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        db.withService((tx) => tx`insert into ${tx(SCHEMA)}.writes (tag) values (${"concurrent"}) returning ${i}::int as i`, { rateLimit: rule })),
    );
    const ok = results.filter((r) => r.status === "fulfilled");
    const rejected = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
    expect(ok).toHaveLength(10);
    expect(rejected).toHaveLength(10);
    for (const r of rejected) expect((r.reason as ApiError).code).toBe("rate_limited");
    expect(await rowsFor("concurrent")).toBe(10);
    const [row] = await admin`select hits from private.rate_limits where key = ${rule.key}`;
    expect(row.hits).toBe(10); // rejected requests roll back their own hit: the counter stays at the limit
  });

  it("different keys are independent", async () => {
    await awayFromBoundary(60);
    const a = { key: key("indep-a"), limit: 1, windowSeconds: 60 };
    const b = { key: key("indep-b"), limit: 1, windowSeconds: 60 };
    await db.withService((tx) => tx`select 1`, { rateLimit: a });
    expect((await db.withService((tx) => tx`select 1`, { rateLimit: a }).catch((e) => e) as ApiError).code).toBe("rate_limited");
    await expect(db.withService((tx) => tx`select 1`, { rateLimit: b })).resolves.toBeDefined();
    // a request without a rule, and a request for key b, on connections that just saw key a rejected
    await expect(db.withService((tx) => tx`select 1`)).resolves.toBeDefined();
    const single = createDb({ url: inject("databaseUrl"), max: 1 });
    try {
      const c = { key: key("indep-c"), limit: 1, windowSeconds: 60 };
      const d = { key: key("indep-d"), limit: 5, windowSeconds: 60 };
      await single.withService((tx) => tx`select 1`, { rateLimit: c });
      expect((await single.withService((tx) => tx`select 1`, { rateLimit: c }).catch((e) => e) as ApiError).code).toBe("rate_limited");
      await expect(single.withService((tx) => tx`select 1`, { rateLimit: d })).resolves.toBeDefined();
      await expect(single.withUser({ id: crypto.randomUUID(), claims: {} }, (tx) => tx`select 1`)).resolves.toBeDefined();
    } finally {
      await single.end();
    }
  });

  it("a new window starts a new count", async () => {
    await awayFromBoundary(2, 1.5);
    const rule = { key: key("window"), limit: 1, windowSeconds: 2 };
    await db.withService((tx) => tx`select 1`, { rateLimit: rule });
    const err = await db.withService((tx) => tx`select 1`, { rateLimit: rule }).catch((e) => e);
    expect((err as ApiError).code).toBe("rate_limited");
    expect(Number((err as ApiError).headers["Retry-After"])).toBeLessThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 2100));
    await expect(db.withService((tx) => tx`select 1`, { rateLimit: rule })).resolves.toBeDefined();
  });
});
