// shared/log: JSON lines, level filtering, and error descriptions without messages.
import { describe, expect, it } from "vitest";
import { bufferedSink, createLogger, describeError } from "../../shared/log/index.ts";

describe("createLogger", () => {
  it("writes one JSON object per line with ts, level, event and fields", () => {
    const lines: string[] = [];
    const log = createLogger("debug", (l) => lines.push(l));
    log.info("request", { requestId: "r1", status: 200, ok: true, none: null });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain("\n");
    const o = JSON.parse(lines[0]);
    expect(o).toMatchObject({ level: "info", event: "request", requestId: "r1", status: 200, ok: true, none: null });
    expect(new Date(o.ts).toISOString()).toBe(o.ts);
  });

  it("filters by level", () => {
    const lines: string[] = [];
    const log = createLogger("warn", (l) => lines.push(l));
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
    expect(lines.map((l) => JSON.parse(l).event)).toEqual(["w", "e"]);
    expect(lines.map((l) => JSON.parse(l).level)).toEqual(["warn", "error"]);
  });

  it("debug passes everything, silent passes nothing, info is the default", () => {
    const all: string[] = [];
    const d = createLogger("debug", (l) => all.push(l));
    d.debug("a"); d.info("b"); d.warn("c"); d.error("d");
    expect(all).toHaveLength(4);

    const none: string[] = [];
    const s = createLogger("silent", (l) => none.push(l));
    s.debug("a"); s.info("b"); s.warn("c"); s.error("d");
    expect(none).toEqual([]);

    const def: string[] = [];
    const i = createLogger(undefined, (l) => def.push(l));
    i.debug("a"); i.info("b");
    expect(def.map((l) => JSON.parse(l).event)).toEqual(["b"]);
  });

  it("escapes field values (no log injection through newlines)", () => {
    const lines: string[] = [];
    createLogger("info", (l) => lines.push(l)).info("e", { ua: 'x"\n{"level":"error"}' });
    expect(lines).toHaveLength(1);
    expect(lines[0].split("\n")).toHaveLength(1);
    expect(JSON.parse(lines[0]).level).toBe("info");
  });
});

describe("describeError", () => {
  it("gives class and code, never the message or stack", () => {
    const err = Object.assign(new TypeError("api key sk-live-123 leaked"), { code: "E42" });
    const d = describeError(err);
    expect(d).toEqual({ errorClass: "TypeError", errorCode: "E42" });
    expect(JSON.stringify(d)).not.toContain("sk-live-123");
  });

  it("handles numeric codes, custom classes, non-errors", () => {
    class DbError extends Error {
      code = 23505;
    }
    const custom = new DbError("duplicate key value (email)=(a@b.c)");
    expect(describeError(custom)).toEqual({ errorClass: "Error", errorCode: "23505" });
    expect(JSON.stringify(describeError(custom))).not.toContain("a@b.c");
    expect(describeError({ code: { nested: "secret" } })).toEqual({ errorClass: "Object", errorCode: undefined });
    expect(describeError("a string with a secret")).toEqual({ errorClass: "string" });
    expect(describeError(undefined)).toEqual({ errorClass: "undefined" });
    expect(describeError(null)).toEqual({ errorClass: "object" });
    expect(describeError(Object.create(null))).toEqual({ errorClass: "Error", errorCode: undefined });
  });
});

// Issue 10: logging never blocks a request. Lines are queued and written in batches, one write
// at a time; a slow sink makes the bounded queue drop (and count) lines instead of growing.
describe("bufferedSink", () => {
  it("batches lines into one write, in order, off the caller's path", async () => {
    const chunks: string[] = [];
    const sink = bufferedSink({ write: (c) => void chunks.push(c), delayMs: 1 });
    const log = createLogger("info", (l) => sink.line(l));
    log.info("a", { n: 1 });
    log.info("b", { n: 2 });
    expect(chunks).toEqual([]); // nothing written synchronously
    expect(sink.pending).toBe(2);
    await sink.flush();
    expect(chunks).toHaveLength(1);
    expect(chunks[0].endsWith("\n")).toBe(true);
    expect(chunks[0].trimEnd().split("\n").map((l) => JSON.parse(l).event)).toEqual(["a", "b"]);
  });

  it("writes on its own after the delay (no flush needed)", async () => {
    const chunks: string[] = [];
    const sink = bufferedSink({ write: (c) => void chunks.push(c), delayMs: 1 });
    sink.line('{"event":"x"}');
    await new Promise((r) => setTimeout(r, 30));
    expect(chunks).toEqual(['{"event":"x"}\n']);
  });

  it("is bounded: while the sink is stuck, lines beyond maxLines are dropped and counted, then reported", async () => {
    const chunks: string[] = [];
    let release!: () => void;
    let stuck = true;
    const sink = bufferedSink({
      maxLines: 3,
      delayMs: 0,
      write: (c) => {
        chunks.push(c);
        if (stuck) return new Promise<void>((r) => (release = () => { stuck = false; r(); }));
      },
    });
    sink.line("1");
    await new Promise((r) => setTimeout(r, 10)); // "1" is now in flight, the sink does not answer
    for (let i = 2; i <= 10; i++) sink.line(String(i));
    expect(sink.pending).toBe(3); // bounded: 2, 3, 4 held
    expect(sink.dropped).toBe(6); // 5..10 dropped
    release();
    await sink.flush();
    const lines = chunks.join("").trimEnd().split("\n");
    expect(lines.slice(0, 4)).toEqual(["1", "2", "3", "4"]);
    const report = JSON.parse(lines[4]);
    expect(report).toMatchObject({ level: "warn", event: "log.dropped", count: 6, total: 6 });
    expect(lines).toHaveLength(5);
    sink.line("11");
    await sink.flush();
    expect(chunks.join("").trimEnd().split("\n").at(-1)).toBe("11"); // no second report
  });

  it("flush waits for a write in flight and everything queued; flushSync writes the queue at once", async () => {
    const chunks: string[] = [];
    const sink = bufferedSink({
      delayMs: 1000,
      write: (c) => new Promise<void>((r) => setTimeout(() => (chunks.push(c), r()), 5)),
      writeSync: (c) => void chunks.push(`sync:${c}`),
    });
    sink.line("a");
    await sink.flush();
    expect(chunks).toEqual(["a\n"]);
    sink.line("b");
    sink.line("c");
    sink.flushSync();
    expect(chunks).toEqual(["a\n", "sync:b\nc\n"]);
    expect(sink.pending).toBe(0);
  });

  it("a failing sink loses its lines but never throws into the caller", async () => {
    const sink = bufferedSink({ delayMs: 0, write: () => Promise.reject(new Error("EPIPE")) });
    expect(() => sink.line("x")).not.toThrow();
    await expect(sink.flush()).resolves.toBeUndefined();
    expect(sink.pending).toBe(0);
  });
});
