// Summarize a V8 .cpuprofile (`deno run --cpu-prof`): top functions by self and total time as a
// Markdown table, and an SVG flame graph (one box per call path, width = share of samples).
//   tsx scripts/lib/cpuprofile.ts <file.cpuprofile> <out-basename> [title]
// writes <out-basename>.md and <out-basename>.svg.
import { readFileSync, writeFileSync } from "node:fs";

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface Node { id: number; callFrame: CallFrame; children?: number[] }
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

const short = (url: string) =>
  url.replace(/^file:\/\/\/work\/main\//, "").replace(/^.*node_modules\/(\.deno\/[^/]+\/node_modules\/)?/, "npm:").replace(/^ext:/, "ext:");
const label = (f: CallFrame) => `${f.functionName || "(anonymous)"} ${f.url ? `${short(f.url)}:${f.lineNumber + 1}` : ""}`.trim();

export function summarize(p: Profile, top = 30): { table: string; svg: string; totalMs: number } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  p.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i + 1] ?? 0)));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const idle = [...selfUs].filter(([id]) => byId.get(id)!.callFrame.functionName === "(idle)").reduce((a, [, v]) => a + v, 0);
  const busy = total - idle;
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const f = byId.get(id)!.callFrame;
    if (f.functionName === "(idle)") continue;
    self.set(label(f), (self.get(label(f)) ?? 0) + us);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(byId.get(cur)!.callFrame);
      if (seen.has(l) || l === "(root)") continue;
      seen.add(l);
      incl.set(l, (incl.get(l) ?? 0) + us);
    }
  }
  const pct = (us: number) => ((100 * us) / busy).toFixed(1);
  // Self time by where the code comes from.
  const groupOf = (f: CallFrame): string => {
    const u = short(f.url);
    if (f.functionName === "(garbage collector)") return "garbage collector";
    if (f.functionName === "(program)") return "(program): V8/native outside JS functions";
    if (/^(shared|functions|scripts)\//.test(u)) return "our code (shared/, functions/, scripts/)";
    const npm = /^npm:(@[^/]+\/[^/]+|[^/]+)/.exec(u);
    if (npm) return `npm:${npm[1]}`;
    const ext = /^ext:(deno_[a-z_]+|core)/.exec(u);
    if (ext) return `runtime ${ext[1]}`;
    if (!f.url) return `native: ${f.functionName || "(anonymous)"}`.replace(/^native: (op_http.*|writeBuffer)$/, "native: $1");
    return "other";
  };
  const groups = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const f = byId.get(id)!.callFrame;
    if (f.functionName === "(idle)") continue;
    const g = groupOf(f);
    groups.set(g, (groups.get(g) ?? 0) + us);
  }
  const rows = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([l, us]) => `| ${pct(us)} % | \`${l.replace(/\|/g, "\\|")}\` |`);
  const table = [
    `Busy ${(busy / 1000).toFixed(0)} ms of ${(total / 1000).toFixed(0)} ms sampled (the rest idle).`,
    "",
    "Self time by origin (share of busy time):",
    "",
    "| self | origin |",
    "|---|---|",
    ...rows(groups).slice(0, 16),
    "",
    "Top self time (share of busy time):",
    "",
    "| self | function |",
    "|---|---|",
    ...rows(self),
    "",
    "Top total time (the function and what it calls):",
    "",
    "| total | function |",
    "|---|---|",
    ...rows(incl),
  ].join("\n");

  // Flame graph: merge call paths by label.
  interface F { name: string; us: number; kids: Map<string, F> }
  const rootF: F = { name: "all", us: 0, kids: new Map() };
  for (const [id, us] of selfUs) {
    if (byId.get(id)!.callFrame.functionName === "(idle)") continue;
    const path: string[] = [];
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) path.unshift(label(byId.get(cur)!.callFrame));
    let f = rootF;
    f.us += us;
    for (const l of path.slice(1)) {
      let k = f.kids.get(l);
      if (!k) f.kids.set(l, (k = { name: l, us: 0, kids: new Map() }));
      k.us += us;
      f = k;
    }
  }
  const W = 1600, H = 16;
  const boxes: string[] = [];
  let depthMax = 0;
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const draw = (f: F, x: number, depth: number) => {
    const w = (f.us / rootF.us) * W;
    if (w < 0.5) return;
    depthMax = Math.max(depthMax, depth);
    const hue = /npm:hono/.test(f.name) ? 30 : /npm:/.test(f.name) ? 50 : /^(\S+ )?(shared|scripts|functions)\//.test(f.name.split(" ").pop() ?? "") ? 200 : 0;
    boxes.push(`<g><title>${esc(f.name)} (${pct(f.us)} %)</title><rect x="${x.toFixed(1)}" y="${depth * H}" width="${w.toFixed(1)}" height="${H - 1}" fill="hsl(${hue},70%,${60 + (depth % 3) * 7}%)"/>` +
      (w > 40 ? `<text x="${(x + 2).toFixed(1)}" y="${depth * H + 11}" font-size="10" font-family="monospace">${esc(f.name.slice(0, Math.floor(w / 6)))}</text>` : "") + "</g>");
    let cx = x;
    for (const k of [...f.kids.values()].sort((a, b) => b.us - a.us)) {
      draw(k, cx, depth + 1);
      cx += (k.us / rootF.us) * W;
    }
  };
  draw(rootF, 0, 0);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${(depthMax + 1) * H}" viewBox="0 0 ${W} ${(depthMax + 1) * H}">${boxes.join("")}</svg>\n`;
  return { table, svg, totalMs: total / 1000 };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop()!)) {
  const [file, out, title] = process.argv.slice(2);
  const { table, svg } = summarize(JSON.parse(readFileSync(file, "utf8")) as Profile);
  writeFileSync(`${out}.md`, `# ${title ?? "CPU profile"}\n\nFlame graph: [${out.split("/").pop()}.svg](${out.split("/").pop()}.svg) (hover a box for its name and share; blue: our code, orange: hono, yellow: other npm, red: runtime).\n\n${table}\n`);
  writeFileSync(`${out}.svg`, svg);
  console.log(table);
}
