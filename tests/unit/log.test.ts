// shared/log: JSON lines, level filtering, and error descriptions without messages.
import { describe, expect, it } from "vitest";
import { createLogger, describeError } from "../../shared/log/index.ts";

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
