// The benchmark suite's output: charts (bench/lib/svg.ts) and the result files and index it
// writes (bench/lib/publish.ts). Runs no benchmark; measures nothing.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MachineInfo } from '../../bench/lib/machine.js';
import { writeIndex, writeResult } from '../../bench/lib/publish.js';
import type { BenchReport } from '../../bench/lib/report.js';
import { barChart, formatTick, lineChart } from '../../bench/lib/svg.js';

const machine: MachineInfo = {
  date: '2026-11-23T04:00:00.000Z',
  commit: 'abc1234',
  dirtySrcFiles: 0,
  node: 'v20.20.0',
  platform: 'Linux 6.1 x64',
  cpu: 'Test CPU',
  cores: 2,
  memoryGb: 4,
  loadAverage: [0.1, 0.2, 0.3],
};

const report = (name: string): BenchReport => ({
  name,
  title: `Title of ${name}`,
  rows: [
    { metric: 'p99 | latency', value: '980 ms', target: '< 1100 ms', pass: true, headline: true },
    { metric: 'RSS', value: '61 MB', target: '≤ 60 MB', pass: false },
    { metric: 'info only', value: '3' },
  ],
  tables: [{ title: 'By size', header: ['size', 'p99'], rows: [['1k', '5 ms']] }],
  charts: [{ file: `${name}.svg`, title: 'A chart', svg: '<svg xmlns="http://www.w3.org/2000/svg"/>\n' }],
  notes: ['How it was measured.'],
  data: { sizes: [1, 2] },
});

describe('bench charts', () => {
  it('draws a line chart with axes, labels, a legend, and a dashed bound', () => {
    const svg = lineChart({
      title: 'Latency <vs> interval',
      xLabel: 'interval (s)',
      yLabel: 'ms',
      series: [
        {
          name: 'p99',
          points: [
            { x: 0.5, y: 500 },
            { x: 5, y: 4900 },
          ],
        },
        {
          name: 'bound',
          dashed: true,
          points: [
            { x: 0.5, y: 600 },
            { x: 5, y: 5100 },
          ],
        },
        { name: 'gap', points: [{ x: 1, y: Infinity }] },
      ],
    });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('Latency &lt;vs&gt; interval');
    expect(svg).toContain('>interval (s)</text>');
    expect(svg).toContain('>p99</text>');
    expect(svg).toContain('stroke-dasharray="6 4"');
    expect(svg).not.toMatch(/NaN|Infinity/);
  });

  it('draws log axes and grouped bars without NaN', () => {
    const line = lineChart({
      title: 't',
      xLabel: 'x',
      yLabel: 'y',
      logX: true,
      logY: true,
      series: [{ name: 'a', points: [1, 8, 32, 128].map((x) => ({ x, y: x * 100 })) }],
    });
    expect(line).toContain('>128</text>');
    expect(line).not.toContain('NaN');
    const bars = barChart({
      title: 'b',
      yLabel: 'events/s',
      categories: ['sqlite', 'postgres'],
      series: [{ name: 'ingest', values: [6800, 5300] }],
    });
    expect(bars.match(/<rect x=/g)).toHaveLength(2);
    expect(formatTick(20_000)).toBe('20k');
    expect(formatTick(0.5)).toBe('0.5');
  });
});

describe('bench results', () => {
  it('writes JSON, Markdown and SVG per benchmark, then the index and the README headline table', async () => {
    const dir = mkdtempSync(join(os.tmpdir(), 'forewarn-bench-publish-'));
    const readme = join(dir, 'README-root.md');
    writeFileSync(readme, '# x\n\n<!-- bench:headline:start -->\nold\n<!-- bench:headline:end -->\n\nrest\n');
    await writeResult(dir, report('alpha'), machine, false, 12);
    await writeResult(dir, report('beta'), { ...machine, date: '2026-11-23T04:30:00.000Z' }, true, 3);

    const json = JSON.parse(readFileSync(join(dir, 'alpha.json'), 'utf8')) as Record<string, unknown>;
    expect(json).toMatchObject({
      name: 'alpha',
      quick: false,
      seconds: 12,
      machine,
      data: { sizes: [1, 2] },
    });
    const md = readFileSync(join(dir, 'alpha.md'), 'utf8');
    expect(md).toContain('# Title of alpha');
    expect(md).toContain('![A chart](alpha.svg)');
    expect(md).toContain('p99 \\| latency');
    expect(md).toMatch(/\|\s*MISSED\s*\|/);
    expect(readFileSync(join(dir, 'alpha.svg'), 'utf8')).toContain('<svg');

    await writeIndex(dir, readme);
    const index = readFileSync(join(dir, 'README.md'), 'utf8');
    expect(index).toContain('commit `abc1234`');
    expect(index).toContain('quick (`--quick`) run');
    expect(index).toContain('[alpha](alpha.md)');
    expect(index).toMatch(/1 PASS, 1 MISSED/);
    const root = readFileSync(readme, 'utf8');
    expect(root).not.toContain('old');
    expect(root).toContain('[beta](docs/benchmarks/beta.md)');
    expect(root).toContain('rest');
    expect(root).toContain(`on ${machine.cores} cores (${machine.cpu}),`); // one machine: named once

    // A result kept from a run on another machine: the headline says which came from where.
    await writeResult(dir, report('gamma'), { ...machine, cpu: 'Other CPU' }, false, 5);
    await writeIndex(dir, readme);
    expect(readFileSync(readme, 'utf8')).toContain(
      `${machine.cores} cores (${machine.cpu}): alpha, beta; ${machine.cores} cores (Other CPU): gamma`,
    );
  });
});
