// JSON-line logger. Callers pass ids, codes and counts, never secrets, tokens, bodies or PII.
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
}

export function createLogger(level: LogLevel = "info", write: (line: string) => void = (l) => console.log(l)): Logger {
  const min = order[level];
  const emit = (lvl: Exclude<LogLevel, "silent">) => (event: string, fields: LogFields = {}) => {
    if (order[lvl] < min) return;
    write(JSON.stringify({ ts: new Date().toISOString(), level: lvl, event, ...fields }));
  };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}

/** What may be logged about an unexpected error: its class and code, not its message (it can carry data). */
export function describeError(err: unknown): LogFields {
  if (err && typeof err === "object") {
    const e = err as { name?: unknown; code?: unknown; constructor?: { name?: string } };
    return {
      errorClass: typeof e.name === "string" ? e.name : e.constructor?.name ?? "Error",
      errorCode: typeof e.code === "string" || typeof e.code === "number" ? String(e.code) : undefined,
    };
  }
  return { errorClass: typeof err };
}
