// A throw-away PostgreSQL cluster for fault tests, driven WITHOUT blocking the event loop (the
// requests under test keep running while the server is stopped, frozen and restarted):
// initdb/pg_ctl run as user postgres when we are root; freeze = SIGSTOP to the postmaster and
// every backend, thaw = SIGCONT. synchronous_commit stays on: an immediate stop must not lose
// commits that were acknowledged (fsync=off is safe here: the OS keeps what the server wrote).
import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "../../scripts/db/server.ts";

const run = promisify(execFile);
const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

export interface FaultCluster {
  url: string;
  /** pg_ctl stop -m immediate (every backend killed, no shutdown checkpoint). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** SIGSTOP the postmaster and all its children; returns how many processes were frozen. */
  freeze(): number;
  thaw(): void;
  destroy(): Promise<void>;
}

function pgBin(): string | null {
  const base = "/usr/lib/postgresql";
  if (!existsSync(base)) return null;
  for (const v of readdirSync(base).sort().reverse()) {
    const bin = join(base, v, "bin");
    if (existsSync(join(bin, "initdb")) && existsSync(join(bin, "pg_ctl"))) return bin;
  }
  return null;
}

async function asPostgres(cmd: string, args: string[]): Promise<void> {
  if (isRoot) await run("runuser", ["-u", "postgres", "--", cmd, ...args]);
  else await run(cmd, args);
}

/** null when no PostgreSQL binaries are installed (the caller skips). */
export async function startFaultCluster(): Promise<FaultCluster | null> {
  const bin = pgBin();
  if (!bin) return null;
  const dir = mkdtempSync(join(tmpdir(), "pgfault-"));
  chmodSync(dir, 0o777);
  if (isRoot) await run("chown", ["postgres:postgres", dir]);
  const data = join(dir, "data");
  const port = await freePort();
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=100`;
  const pgctl = (...args: string[]) => asPostgres(join(bin, "pg_ctl"), ["-D", data, "-o", opts, "-l", join(dir, "log"), ...args]);
  await asPostgres(join(bin, "initdb"), ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale"]);
  await pgctl("-w", "start");
  let frozen: number[] = [];
  const thaw = () => {
    for (const pid of frozen) {
      try { process.kill(pid, "SIGCONT"); } catch { /* gone */ }
    }
    frozen = [];
  };
  const postmasterPid = () => Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]);
  const children = (pid: number): number[] => {
    try {
      return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  const cleanup = () => {
    thaw();
    try { process.kill(postmasterPid(), "SIGKILL"); } catch { /* stopped */ }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", cleanup);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: () => pgctl("-w", "-m", "immediate", "stop"),
    start: () => pgctl("-w", "start"),
    freeze() {
      const pm = postmasterPid();
      process.kill(pm, "SIGSTOP"); // first: no new backend forks meanwhile
      frozen = [pm];
      for (const pid of children(pm)) {
        try {
          process.kill(pid, "SIGSTOP");
          frozen.push(pid);
        } catch { /* exited */ }
      }
      return frozen.length;
    },
    thaw,
    async destroy() {
      thaw();
      process.off("exit", cleanup);
      await pgctl("-w", "-m", "immediate", "stop").catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
