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

/**
 * A logger writing one JSON line per call to `write` (default: the process's buffered stdout
 * sink, see bufferedSink: a request never waits for the terminal or the log collector).
 */
export function createLogger(level: LogLevel = "info", write: (line: string) => void = (l) => stdoutSink().line(l)): Logger {
  const min = order[level];
  const noop = () => {};
  const emit = (lvl: Exclude<LogLevel, "silent">) =>
    order[lvl] < min ? noop : (event: string, fields?: LogFields) => {
      // As JSON.stringify({ ts, level, event, ...fields }) (a field named like those comes last
      // and wins when parsed), without copying the fields into a new object per line.
      const rest = fields === undefined ? "}" : JSON.stringify(fields);
      write(`{"ts":"${new Date().toISOString()}","level":"${lvl}","event":${JSON.stringify(event)}${rest.length > 2 ? `,${rest.slice(1)}` : "}"}`);
    };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}

export interface SinkOptions {
  /** Write a chunk of complete lines ("…\n…\n"); a returned promise is awaited before the next chunk. */
  write: (chunk: string) => void | Promise<void>;
  /** The same, synchronously, for the last flush at process exit (no event loop left to await). */
  writeSync?: (chunk: string) => void;
  /** Lines held at most while a write is in flight; beyond it new lines are dropped and counted. */
  maxLines?: number;
  /** How long a first line waits for others to share its write (milliseconds). */
  delayMs?: number;
}

export interface BufferedSink {
  /** Queue one line (no newline in it: JSON.stringify never emits one). Never blocks, never throws. */
  line(line: string): void;
  /** Write everything queued (and the drop count); resolves when written. */
  flush(): Promise<void>;
  /** Write everything queued now, synchronously (exit handlers); a write in flight is not awaited. */
  flushSync(): void;
  /** Lines dropped since start because the buffer was full (the sink was slower than the traffic). */
  readonly dropped: number;
  /** Lines queued and not yet handed to `write`. */
  readonly pending: number;
}

/**
 * Log lines off the request path: lines are queued and written in batches, one write at a time.
 * When the sink is slower than the traffic the queue is bounded: new lines are dropped and counted
 * (a `log.dropped` line with the count follows when the sink catches up), memory never grows.
 */
export function bufferedSink(o: SinkOptions): BufferedSink {
  const maxLines = o.maxLines ?? 4096;
  const delayMs = o.delayMs ?? 5;
  let queue: string[] = [];
  let dropped = 0;
  let reported = 0;
  let inFlight: Promise<void> | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const take = (): string | null => {
    if (dropped > reported) {
      queue.push(JSON.stringify({ ts: new Date().toISOString(), level: "warn", event: "log.dropped", count: dropped - reported, total: dropped }));
      reported = dropped;
    }
    if (!queue.length) return null;
    const chunk = queue.join("\n") + "\n";
    queue = [];
    return chunk;
  };
  const pump = (): Promise<void> => {
    timer = undefined;
    if (inFlight) return inFlight;
    const chunk = take();
    if (chunk === null) return Promise.resolve();
    inFlight = (async () => {
      try {
        await o.write(chunk);
      } catch { /* a failed write loses its lines; logging never takes a request down */ }
      inFlight = null;
      if (queue.length || dropped > reported) await pump();
    })();
    return inFlight;
  };
  const schedule = () => {
    if (timer === undefined && !inFlight) {
      timer = setTimeout(pump, delayMs);
      (timer as { unref?: () => void }).unref?.();
    }
  };
  return {
    line(line: string) {
      if (queue.length >= maxLines) {
        dropped++;
        return;
      }
      queue.push(line);
      schedule();
    },
    async flush() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      while (inFlight || queue.length || dropped > reported) await (inFlight ?? pump());
    },
    flushSync() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      const chunk = take();
      if (chunk === null) return;
      try {
        (o.writeSync ?? ((c: string) => void o.write(c)))(chunk);
      } catch { /* exiting anyway */ }
    },
    get dropped() {
      return dropped;
    },
    get pending() {
      return queue.length;
    },
  };
}

type StdoutHost = {
  Deno?: { stdout: { write(b: Uint8Array): Promise<number>; writeSync(b: Uint8Array): number } };
  process?: { stdout: { write(s: string, cb?: (err?: Error | null) => void): boolean } };
};

let stdout: BufferedSink | undefined;

/** The process's stdout as a buffered sink (Deno: async writes; Node: process.stdout). */
export function stdoutSink(): BufferedSink {
  if (stdout) return stdout;
  const host = globalThis as unknown as StdoutHost;
  const deno = host.Deno?.stdout;
  const enc = new TextEncoder();
  if (deno) {
    const writeAll = async (b: Uint8Array) => {
      for (let off = 0; off < b.length;) off += await deno.write(b.subarray(off));
    };
    stdout = bufferedSink({
      write: (chunk) => writeAll(enc.encode(chunk)),
      writeSync: (chunk) => {
        const b = enc.encode(chunk);
        for (let off = 0; off < b.length;) off += deno.writeSync(b.subarray(off));
      },
    });
  } else if (host.process?.stdout) {
    const out = host.process.stdout;
    stdout = bufferedSink({
      write: (chunk) => new Promise<void>((resolve) => void out.write(chunk, () => resolve())),
    });
  } else {
    stdout = bufferedSink({ write: (chunk) => console.log(chunk.slice(0, -1)) });
  }
  return stdout;
}

/** Write every queued log line of this process (shutdown: SIGTERM, unload). */
export async function flushLogs(): Promise<void> {
  await stdout?.flush();
}

/** The same, synchronously, from an exit or unload handler. */
export function flushLogsSync(): void {
  stdout?.flushSync();
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
