// npm start: the scheduled functions on a timer, called over HTTP with CRON_SECRET exactly as a
// platform scheduler (Supabase scheduled functions, or pg_cron + pg_net) calls them in
// production. Going through the served functions keeps every database call on the server's one
// pool, which PGlite (one session) needs. Returns the stop function.

export interface CronJob {
  /** Function name, called as POST <base>/<name>. */
  name: string;
  everyMs: number;
  /** Delay before the first call. */
  firstMs: number;
}

/** The development schedule: outbound webhooks every 5 s, retention per RETENTION_DEV_INTERVAL_SECONDS (0 = off). */
export function devSchedule(env: Record<string, string | undefined>): CronJob[] {
  const jobs: CronJob[] = [{ name: "webhook-deliver", everyMs: 5_000, firstMs: 2_000 }];
  const retention = Number(env.RETENTION_DEV_INTERVAL_SECONDS ?? 24 * 3600);
  if (Number.isFinite(retention) && retention > 0) jobs.push({ name: "retention-cleanup", everyMs: retention * 1000, firstMs: 5_000 });
  return jobs;
}

export function startDevCron(base: string, cronSecret: string, jobs: CronJob[], log: (line: string) => void): () => void {
  const timers: ReturnType<typeof setTimeout>[] = [];
  let stopped = false;
  for (const job of jobs) {
    let running = false;
    const run = async () => {
      if (running || stopped) return;
      running = true;
      try {
        const res = await fetch(`${base}/${job.name}`, {
          method: "POST",
          headers: { authorization: `Bearer ${cronSecret}`, "content-type": "application/json" },
          body: "{}",
          signal: AbortSignal.timeout(60_000),
        });
        const text = await res.text();
        // Quiet when nothing happened; one line when something did or failed.
        if (!res.ok) log(`[cron] ${job.name}: HTTP ${res.status}`);
        else if (!/^\{"claimed":0,|"total":0\b/.test(text)) log(`[cron] ${job.name}: ${text.slice(0, 200)}`);
      } catch (err) {
        if (!stopped) log(`[cron] ${job.name}: ${(err as Error).name}`);
      } finally {
        running = false;
      }
    };
    timers.push(setTimeout(() => {
      void run();
      timers.push(setInterval(() => void run(), job.everyMs));
    }, job.firstMs));
  }
  return () => {
    stopped = true;
    for (const t of timers) clearTimeout(t);
  };
}
