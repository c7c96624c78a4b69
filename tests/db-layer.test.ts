// shared/db against the test database: withUser runs as `edge_user` (a member of `authenticated`,
// see migrations/…_data_api_hardening.sql) with the caller's claims, errors roll back, and
// nothing (role, claims) leaks onto the pooled connection.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import postgres from "postgres";
import { createDb, type Db, type RateLimitState, type StatementOptions, type UserContext } from "../shared/db/index.ts";
import { ApiError } from "../shared/http/errors.ts";

const SCHEMA = "unit_db_scratch";
let db: Db;
let oneConn: Db;
let admin: postgres.Sql;
let loginRole: string;

const userA = { id: crypto.randomUUID(), claims: { role: "authenticated", email: "a@example.test", aud: "authenticated" } };
const userB = { id: crypto.randomUUID(), claims: { role: "authenticated" } };

beforeAll(async () => {
  admin = postgres(inject("databaseUrl"), { max: 1, onnotice: () => {} });
  await admin.unsafe(`
    drop schema if exists ${SCHEMA} cascade;
    create schema ${SCHEMA};
    grant usage on schema ${SCHEMA} to authenticated;
    create table ${SCHEMA}.notes (id serial primary key, owner uuid, body text not null);
    grant select, insert on ${SCHEMA}.notes to authenticated;
    grant usage on sequence ${SCHEMA}.notes_id_seq to authenticated;
    -- A one-statement request function, shaped like private.read_user_secret.
    create function ${SCHEMA}.whoami(p_request jsonb, p_note text, p_fail boolean)
    returns table (cu text, uid uuid, rate_limit jsonb) language plpgsql as $$
    declare v_rate jsonb := private.begin_user_request(p_request);
    begin
      if p_note is not null then insert into ${SCHEMA}.notes (owner, body) values (auth.uid(), p_note); end if;
      if p_fail then perform 1 / 0; end if;
      cu := current_user; uid := auth.uid(); rate_limit := v_rate;
      return next;
    end $$;`);
  [{ current_user: loginRole }] = await admin`select current_user`;
  db = createDb({ url: inject("databaseUrl"), max: 3 });
  oneConn = createDb({ url: inject("databaseUrl"), max: 1 }); // every call reuses one connection
});

afterAll(async () => {
  await db?.end();
  await oneConn?.end();
  await admin?.unsafe(`drop schema if exists ${SCHEMA} cascade`);
  await admin?.end();
});

describe("withUser", () => {
  it("runs as role edge_user (member of authenticated) with the user's claims", async () => {
    const r = await db.withUser(userA, async (tx) => {
      const [row] = await tx`select current_user as cu, auth.uid() as uid, auth.role() as role, auth.jwt() as jwt,
        current_setting('request.jwt.claims') as raw`;
      return row;
    });
    expect(r.cu).toBe("edge_user");
    expect(r.uid).toBe(userA.id);
    expect(r.role).toBe("authenticated"); // auth.role() reads the claims
    expect(r.jwt).toMatchObject({ sub: userA.id, email: "a@example.test", aud: "authenticated" });
    expect(JSON.parse(r.raw).sub).toBe(userA.id);
  });

  it("the user id wins over a sub in the claims", async () => {
    const uid = await db.withUser({ id: userB.id, claims: { sub: userA.id, role: "authenticated" } }, async (tx) =>
      (await tx`select auth.uid() as uid`)[0].uid);
    expect(uid).toBe(userB.id);
  });

  it("commits the work of a successful fn", async () => {
    await db.withUser(userA, (tx) => tx`insert into ${tx(SCHEMA)}.notes (owner, body) values (${userA.id}, 'kept')`);
    const [{ n }] = await admin`select count(*)::int as n from ${admin(SCHEMA)}.notes where owner = ${userA.id} and body = 'kept'`;
    expect(n).toBe(1);
  });

  it("an error inside fn rolls everything back and is rethrown unchanged", async () => {
    const boom = new Error("fn failed");
    const err = await db.withUser(userA, async (tx) => {
      await tx`insert into ${tx(SCHEMA)}.notes (owner, body) values (${userA.id}, 'rolled back')`;
      throw boom;
    }).catch((e) => e);
    expect(err).toBe(boom);
    const [{ n }] = await admin`select count(*)::int as n from ${admin(SCHEMA)}.notes where body = 'rolled back'`;
    expect(n).toBe(0);
  });

  it("a SQL error inside fn rolls back the earlier statements", async () => {
    const err = await db.withUser(userA, async (tx) => {
      await tx`insert into ${tx(SCHEMA)}.notes (owner, body) values (${userA.id}, 'before sql error')`;
      await tx`insert into ${tx(SCHEMA)}.notes (owner, body) values (${userA.id}, null)`; // not null violation
    }).catch((e) => e);
    expect((err as { code?: string }).code).toBe("23502");
    const [{ n }] = await admin`select count(*)::int as n from ${admin(SCHEMA)}.notes where body = 'before sql error'`;
    expect(n).toBe(0);
  });

  it("RLS applies: the user cannot write someone else's secret", async () => {
    const err = await db.withUser(userA, (tx) =>
      tx`insert into public.user_secrets (user_id, service_name, encrypted_value, initialization_vector)
         values (${userB.id}, 'openai_api_key_encrypted', 'x', 'y')`).catch((e) => e);
    expect((err as { code?: string }).code).toBe("42501");
  });
});

describe("no state leaks onto the pooled connection", () => {
  it("withService after withUser (same connection) runs as the login role without claims", async () => {
    await oneConn.withUser(userA, async (tx) => tx`select 1`);
    const after = await oneConn.withService(async (tx) =>
      (await tx`select current_user as cu, session_user as su, auth.uid() as uid,
                       coalesce(current_setting('request.jwt.claims', true), '') as claims`)[0]);
    expect(after.cu).toBe(loginRole);
    expect(after.su).toBe(loginRole);
    expect(after.uid).toBeNull();
    expect(after.claims).toBe("");
  });

  it("...also after a failed withUser", async () => {
    await oneConn.withUser(userA, async (tx) => {
      await tx`select 1`;
      throw new Error("x");
    }).catch(() => {});
    await oneConn.withUser(userA, async (tx) => {
      await tx`select 1/0`;
    }).catch(() => {});
    const cu = await oneConn.withService(async (tx) => (await tx`select current_user as cu`)[0].cu);
    expect(cu).toBe(loginRole);
    // and the plain pool sees the same
    const [{ cu: plain }] = await oneConn.sql`select current_user as cu`;
    expect(plain).toBe(loginRole);
  });

  it("one user's claims are never visible to the next user on the same connection", async () => {
    await oneConn.withUser(userA, (tx) => tx`select 1`);
    const uid = await oneConn.withUser(userB, async (tx) => (await tx`select auth.uid() as uid`)[0].uid);
    expect(uid).toBe(userB.id);
  });

  it("withService runs in a transaction too (rolls back on error)", async () => {
    await oneConn.withService(async (tx) => {
      await tx`insert into ${tx(SCHEMA)}.notes (owner, body) values (null, 'service rolled back')`;
      throw new Error("nope");
    }).catch(() => {});
    const [{ n }] = await admin`select count(*)::int as n from ${admin(SCHEMA)}.notes where body = 'service rolled back'`;
    expect(n).toBe(0);
  });

  it("the connection stays usable for many sequential calls", async () => {
    for (let i = 0; i < 20; i++) {
      const fail = i % 2 === 0;
      const r = await oneConn.withUser(userA, async (tx) => {
        const [row] = await tx`select ${i}::int as i`;
        if (fail) throw new Error("odd");
        return row.i;
      }).catch(() => "failed");
      expect(r).toBe(fail ? "failed" : i);
    }
  });
});

describe("asUser (one statement)", () => {
  type Who = { cu: string; uid: string; rate_limit: { hits: number; reset: number } | null };
  const whoami = (d: Db, user: UserContext, opts: StatementOptions = {}, note: string | null = null, fail = false) =>
    d.asUser<Who>(user, (sql, request) => sql<Who[]>`select * from ${sql(SCHEMA)}.whoami(${request}, ${note}, ${fail})`, opts);

  it("runs as role edge_user with the user's claims and reports the limiter's state", async () => {
    const key = `unit:${crypto.randomUUID()}`;
    const states: RateLimitState[] = [];
    const [row] = await whoami(db, userA, { rateLimit: { key, limit: 5, windowSeconds: 60 }, onRateLimit: (s: RateLimitState) => states.push(s) });
    expect(row.cu).toBe("edge_user");
    expect(row.uid).toBe(userA.id);
    expect(states).toHaveLength(1);
    expect(states[0]).toMatchObject({ limit: 5, remaining: 4 });
  });

  it("over the limit: 429 with Retry-After, nothing done, and the counter stays at the limit", async () => {
    const key = `unit:${crypto.randomUUID()}`;
    const rule = { rateLimit: { key, limit: 2, windowSeconds: 60 } };
    await whoami(db, userA, rule);
    await whoami(db, userA, rule);
    const err = await whoami(db, userA, rule, "over the limit").catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.code).toBe("rate_limited");
    expect(Number(err.headers["Retry-After"])).toBeGreaterThan(0);
    const [{ hits }] = await admin`select hits from private.rate_limits where key = ${key}`;
    expect(hits).toBe(2);
    const [{ n }] = await admin`select count(*)::int as n from ${admin(SCHEMA)}.notes where body = 'over the limit'`;
    expect(n).toBe(0);
  });

  it("an error inside the statement rolls back its writes", async () => {
    const err = await whoami(db, userA, {}, "rolled back", true).catch((e) => e);
    expect(err.code).toBe("22012");
    const [{ n }] = await admin`select count(*)::int as n from ${admin(SCHEMA)}.notes where body = 'rolled back'`;
    expect(n).toBe(0);
    await whoami(db, userA, {}, "kept");
    const [{ owner }] = await admin`select owner from ${admin(SCHEMA)}.notes where body = 'kept'`;
    expect(owner).toBe(userA.id);
  });

  it("pipelined with other queries on one connection, the role and claims never leak", async () => {
    // execute() hands each query to the connection at once, so the order on the wire is exactly
    // the order below: every plain query sits right behind a one-statement request.
    const plain = () => oneConn.sql`select current_user as cu, coalesce(current_setting('request.jwt.claims', true), '') as claims`.execute();
    const asUserNow = (user: UserContext) =>
      oneConn.asUser<Who>(user, (sql, request) => sql<Who[]>`select * from ${sql(SCHEMA)}.whoami(${request}, null, false)`.execute());
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      i % 2 === 0 ? asUserNow(i % 4 === 0 ? userA : userB).then(([r]) => r) : plain().then(([r]) => r)));
    results.forEach((r, i) => {
      if (i % 2 === 0) {
        expect(r).toMatchObject({ cu: "edge_user", uid: i % 4 === 0 ? userA.id : userB.id });
      } else {
        expect(r).toEqual({ cu: loginRole, claims: "" });
      }
    });
  });
});
