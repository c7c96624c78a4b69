// npm start's scheduler: scheduled functions called over HTTP with CRON_SECRET, like a platform scheduler.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { devSchedule, startDevCron } from "../scripts/lib/dev-cron.ts";

describe("dev cron", () => {
  it("schedules webhook-deliver every 5 s and retention per RETENTION_DEV_INTERVAL_SECONDS (0 = off)", () => {
    expect(devSchedule({}).map((j) => [j.name, j.everyMs])).toEqual([["webhook-deliver", 5000], ["retention-cleanup", 86_400_000]]);
    expect(devSchedule({ RETENTION_DEV_INTERVAL_SECONDS: "0" }).map((j) => j.name)).toEqual(["webhook-deliver"]);
    expect(devSchedule({ RETENTION_DEV_INTERVAL_SECONDS: "60" })[1].everyMs).toBe(60_000);
  });

  it("POSTs each job with the bearer secret, repeatedly, logs failures, and stops", async () => {
    const calls: { path: string; auth: string | undefined }[] = [];
    const server = createServer((req, res) => {
      calls.push({ path: req.url ?? "", auth: req.headers.authorization });
      if (req.url?.endsWith("/fails")) {
        res.writeHead(500).end("{}");
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end('{"claimed":1,"delivered":1,"failed":0}');
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/functions/v1`;
    const lines: string[] = [];
    const stop = startDevCron(base, "s3cret-s3cret-s3cret-s3cret-s3cret", [
      { name: "works", everyMs: 40, firstMs: 5 }, { name: "fails", everyMs: 1000, firstMs: 5 },
    ], (l) => lines.push(l));
    await new Promise((r) => setTimeout(r, 200));
    stop();
    await new Promise((r) => setTimeout(r, 100)); // a POST already on its way when stop() ran still lands
    const n = calls.length;
    await new Promise((r) => setTimeout(r, 200)); // five periods of "works"
    server.close();
    expect(calls.length).toBe(n); // stopped
    expect(calls.filter((c) => c.path === "/functions/v1/works").length).toBeGreaterThanOrEqual(3);
    expect(calls.every((c) => c.auth === "Bearer s3cret-s3cret-s3cret-s3cret-s3cret")).toBe(true);
    expect(lines).toContain("[cron] fails: HTTP 500");
    expect(lines.some((l) => l.startsWith('[cron] works: {"claimed":1'))).toBe(true);
  });
});
