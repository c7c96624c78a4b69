import { describe, expect, it } from "vitest";
import { detectPii, PII_TYPES } from "../../shared/pii/index.ts";
import { DECOY_CLASSES, generateDataset } from "./dataset.ts";
import { evaluateSpans } from "./evaluate.ts";

const data = generateDataset();
const report = evaluateSpans(data, (t) => detectPii(t));

function table(): string {
  const rows = [
    ...PII_TYPES.map((t) => `${t.padEnd(16)} recall ${report.perType[t].rate.toFixed(3)} (${report.perType[t].ok}/${report.perType[t].total})`),
    ...DECOY_CLASSES.map((c) => `${c.padEnd(16)} intact ${report.perDecoy[c].rate.toFixed(3)} (${report.perDecoy[c].ok}/${report.perDecoy[c].total})`),
    `overall recall ${report.recall.rate.toFixed(4)}, decoys intact ${report.intact.rate.toFixed(4)}`,
  ];
  return rows.join("\n");
}

describe("labelled set", () => {
  it("has at least 400 messages covering every type and decoy class", () => {
    expect(data.length).toBeGreaterThanOrEqual(400);
    for (const t of PII_TYPES) expect(report.perType[t]?.total ?? 0).toBeGreaterThanOrEqual(50);
    for (const c of DECOY_CLASSES) expect(report.perDecoy[c].total).toBeGreaterThanOrEqual(40);
    console.log(`PII labelled set: ${data.length} messages\n${table()}`);
  });

  it("overall recall >= 0.99 and decoys intact >= 0.98", () => {
    if (report.recall.rate < 0.99) console.log("misses:\n" + report.misses.slice(0, 30).join("\n"));
    if (report.intact.rate < 0.98) console.log("damaged decoys:\n" + report.damaged.slice(0, 30).join("\n"));
    expect(report.recall.rate).toBeGreaterThanOrEqual(0.99);
    expect(report.intact.rate).toBeGreaterThanOrEqual(0.98);
  });

  it.each([...PII_TYPES])("recall of %s >= 0.99", (t) => {
    expect(report.perType[t].rate).toBeGreaterThanOrEqual(0.99);
  });

  it.each([...DECOY_CLASSES])("decoys of class %s intact >= 0.98", (c) => {
    expect(report.perDecoy[c].rate).toBeGreaterThanOrEqual(0.98);
  });
});
