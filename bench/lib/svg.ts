// Small hand-written SVG charts for docs/benchmarks/: a line chart (numeric or log x axis) and a
// grouped bar chart, each with axes, tick labels, axis titles and a legend. No dependencies: the
// output is plain text that diffs well and renders on GitHub.

export interface Series {
  name: string;
  points: { x: number; y: number }[];
  /** Drawn dashed without markers: a bound or a target, not a measurement. */
  dashed?: boolean;
}

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Log-scale x axis (e.g. concurrency 1…128 or sizes 1k…100k). */
  logX?: boolean;
  logY?: boolean;
}

export interface BarChart {
  title: string;
  yLabel: string;
  categories: string[];
  series: { name: string; values: number[] }[];
}

const W = 720;
const H = 420;
const M = { left: 78, right: 20, top: 44, bottom: 92 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const r1 = (x: number) => Math.round(x * 10) / 10;

/** Round numbers for axis ticks over [lo, hi]. */
function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(r1(t * 1000) / 1000);
  return ticks;
}

function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++)
    for (const m of [1, 2, 5]) {
      const t = m * 10 ** e;
      if (t >= lo * 0.999 && t <= hi * 1.001) ticks.push(t);
    }
  return ticks;
}

export function formatTick(t: number): string {
  const a = Math.abs(t);
  if (a >= 1e6) return `${r1(t / 1e6)}M`;
  if (a >= 1e3) return `${r1(t / 1e3)}k`;
  return String(r1(t * 100) / 100);
}

function frame(title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

function legend(names: { name: string; color: string; dashed?: boolean }[]): string[] {
  const out: string[] = [];
  let x = M.left;
  let y = H - 22;
  for (const n of names) {
    const width = 44 + n.name.length * 7;
    if (x + width > W - M.right) {
      x = M.left;
      y += 16;
    }
    out.push(
      `<line x1="${x}" y1="${y - 4}" x2="${x + 24}" y2="${y - 4}" stroke="${n.color}" stroke-width="3"${n.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
      `<text x="${x + 30}" y="${y}">${esc(n.name)}</text>`,
    );
    x += width;
  }
  return out;
}

function yAxis(ticks: number[], y: (v: number) => number, label: string): string[] {
  const out = [
    `<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${H - M.bottom}" stroke="#333"/>`,
    `<text transform="translate(18 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(label)}</text>`,
  ];
  for (const t of ticks) {
    const py = r1(y(t));
    out.push(
      `<line x1="${M.left}" y1="${py}" x2="${W - M.right}" y2="${py}" stroke="#e5e5e5"/>`,
      `<text x="${M.left - 6}" y="${py + 4}" text-anchor="end">${formatTick(t)}</text>`,
    );
  }
  return out;
}

export function lineChart(c: LineChart): string {
  const xs = c.series.flatMap((s) => s.points.map((p) => p.x));
  const ys = c.series.flatMap((s) => s.points.map((p) => p.y)).filter(Number.isFinite);
  const xLo = Math.min(...xs);
  const xHi = Math.max(...xs);
  const yHi = Math.max(...ys, 0) * 1.08 || 1;
  const yLo = c.logY ? Math.max(Math.min(...ys.filter((v) => v > 0)) / 1.5, 1e-6) : 0;
  const tx = c.logX ? Math.log10 : (v: number) => v;
  const ty = c.logY ? Math.log10 : (v: number) => v;
  const [a, b] = xLo === xHi ? [tx(xLo) - 1, tx(xHi) + 1] : [tx(xLo), tx(xHi)];
  const pad = (b - a) * 0.04;
  const x = (v: number) => M.left + ((tx(v) - a + pad) / (b - a + 2 * pad)) * (W - M.left - M.right);
  const y = (v: number) => H - M.bottom - ((ty(v) - ty(yLo)) / (ty(yHi) - ty(yLo))) * (H - M.top - M.bottom);
  const body = yAxis(c.logY ? logTicks(yLo, yHi) : niceTicks(0, yHi), y, c.yLabel);
  body.push(
    `<line x1="${M.left}" y1="${H - M.bottom}" x2="${W - M.right}" y2="${H - M.bottom}" stroke="#333"/>`,
    `<text x="${(M.left + W - M.right) / 2}" y="${H - M.bottom + 36}" text-anchor="middle">${esc(c.xLabel)}</text>`,
  );
  const xTicks = [...new Set(xs)].sort((p, q) => p - q);
  for (const t of xTicks)
    body.push(
      `<line x1="${r1(x(t))}" y1="${H - M.bottom}" x2="${r1(x(t))}" y2="${H - M.bottom + 5}" stroke="#333"/>`,
      `<text x="${r1(x(t))}" y="${H - M.bottom + 18}" text-anchor="middle">${formatTick(t)}</text>`,
    );
  c.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts = s.points.filter((p) => Number.isFinite(p.y)).sort((p, q) => p.x - q.x);
    // A bound with one point (a one-size run) is drawn across the plot, or it would not show.
    const d =
      s.dashed && pts.length === 1
        ? `M${M.left} ${r1(y(pts[0]!.y))} L${W - M.right} ${r1(y(pts[0]!.y))}`
        : pts.map((p, j) => `${j ? 'L' : 'M'}${r1(x(p.x))} ${r1(y(p.y))}`).join(' ');
    if (d)
      body.push(
        `<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
      );
    if (!s.dashed)
      for (const p of pts)
        body.push(`<circle cx="${r1(x(p.x))}" cy="${r1(y(p.y))}" r="3.5" fill="${color}"/>`);
  });
  body.push(
    ...legend(
      c.series.map((s, i) => ({ name: s.name, color: COLORS[i % COLORS.length]!, dashed: s.dashed })),
    ),
  );
  return frame(c.title, body);
}

export function barChart(c: BarChart): string {
  const all = c.series.flatMap((s) => s.values).filter(Number.isFinite);
  const yHi = Math.max(...all, 0) * 1.1 || 1;
  const y = (v: number) => H - M.bottom - (v / yHi) * (H - M.top - M.bottom);
  const body = yAxis(niceTicks(0, yHi), y, c.yLabel);
  body.push(
    `<line x1="${M.left}" y1="${H - M.bottom}" x2="${W - M.right}" y2="${H - M.bottom}" stroke="#333"/>`,
  );
  const groupW = (W - M.left - M.right) / Math.max(1, c.categories.length);
  const barW = (groupW * 0.8) / Math.max(1, c.series.length);
  c.categories.forEach((cat, g) => {
    const gx = M.left + g * groupW + groupW * 0.1;
    body.push(
      `<text x="${r1(gx + groupW * 0.4)}" y="${H - M.bottom + 18}" text-anchor="middle">${esc(cat)}</text>`,
    );
    c.series.forEach((s, i) => {
      const v = s.values[g];
      if (v === undefined || !Number.isFinite(v)) return;
      const top = y(v);
      body.push(
        `<rect x="${r1(gx + i * barW)}" y="${r1(top)}" width="${r1(barW - 2)}" height="${r1(H - M.bottom - top)}" fill="${COLORS[i % COLORS.length]}"><title>${esc(`${s.name} ${cat}: ${formatTick(v)}`)}</title></rect>`,
      );
    });
  });
  body.push(...legend(c.series.map((s, i) => ({ name: s.name, color: COLORS[i % COLORS.length]! }))));
  return frame(c.title, body);
}
