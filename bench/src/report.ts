/**
 * Renders benchmark results as a Markdown table per workload and an SVG bar chart.
 * `node dist/report.js` re-renders bench/results/README.md from bench/results/latest.json.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Row {
  label: string;
  kind: 'proactor' | 'baseline';
  median: number;
  min: number;
  max: number;
  samples: number[];
}

export interface Workload {
  id: string;
  title: string;
  unit: string;
  rows: Row[];
  /** When this workload was measured, where it differs from the file's date (a partial run). */
  measured?: string;
  /** Lines printed under the table (counts, verification, caveats). */
  notes?: string[];
  /** The 1-minute load average when the workload started and when it ended (the machine is shared). */
  loadAverage?: [number, number];
  /** The CPUs it ran on (describeMachine().cpus); absent in results saved before it was recorded. */
  cpus?: string;
}

/** What results/latest.json says about the machine; every field may be missing in old files. */
export interface Machine {
  date?: string;
  node?: string;
  cpus?: string;
  memory?: string;
  runs?: number;
  secondsPerRun?: number;
  [key: string]: unknown;
}

/** This machine: Node version, CPUs and memory, as the header of the results names them. */
export function describeMachine(): Machine {
  return {
    node: process.version,
    cpus: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
    memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
  };
}

/** The header's sentence about the machine, from the fields it has (none: this machine now). */
function machineLine(machine: Machine): string {
  const m = machine.cpus === undefined ? { ...describeMachine(), ...machine } : machine;
  const parts = [m.cpus, m.memory, m.node === undefined ? undefined : `Node ${m.node}`].filter(
    (p): p is string => typeof p === 'string',
  );
  return `Last written${m.date === undefined ? '' : ` ${m.date}`} on ${parts.join(', ')}; each table says when and on which CPUs it was measured (tables saved before the CPUs were recorded per table say only when).`;
}

/** Under a table's title: when it was measured, how many runs, and the load average meanwhile. */
function measuredLine(w: Workload): string | undefined {
  const parts: string[] = [];
  if (w.measured) parts.push(`measured ${w.measured}${w.cpus === undefined ? '' : ` on ${w.cpus}`}`);
  const runs = Math.max(0, ...w.rows.map((r) => r.samples.length));
  if (runs > 0) parts.push(`${runs} run${runs === 1 ? '' : 's'} per variant`);
  if (w.loadAverage)
    parts.push(
      `load average (1 min) ${w.loadAverage[0].toFixed(1)} at the start, ${w.loadAverage[1].toFixed(1)} at the end`,
    );
  return parts.length ? `(${parts.join('; ')})` : undefined;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function renderMarkdown(machine: Machine, workloads: Workload[]): string {
  const lines = [
    '# proactor benchmark results',
    '',
    machineLine(machine),
    'Each variant runs in its own process, several times, interleaved with the others; medians with min-max.',
    'Ratios compare each proactor variant with each baseline measured in the same run.',
    '',
  ];
  for (const w of workloads) {
    const baselines = w.rows.filter((r) => r.kind === 'baseline');
    lines.push(`## ${w.title}`, '');
    const measured = measuredLine(w);
    if (measured) lines.push(measured, '');
    lines.push(
      `| variant | median ${w.unit} | min - max | ${baselines.map((b) => `x ${b.label}`).join(' | ')} |`,
    );
    lines.push(`|---|---:|---:|${baselines.map(() => '---:').join('|')}|`);
    for (const r of w.rows) {
      const ratios = baselines.map((b) => (r.kind === 'proactor' ? (r.median / b.median).toFixed(2) : ''));
      const label = r.kind === 'proactor' ? `**${r.label}**` : r.label;
      lines.push(`| ${label} | ${fmt(r.median)} | ${fmt(r.min)} - ${fmt(r.max)} | ${ratios.join(' | ')} |`);
    }
    lines.push('');
    if (w.notes?.length) lines.push(...w.notes.map((n) => `- ${n}`), '');
  }
  return `${lines.join('\n')}\n`;
}

export function renderSvg(w: Workload): string {
  const width = 760;
  const barHeight = 22;
  const gap = 8;
  const left = 260;
  const top = 40;
  const max = Math.max(...w.rows.map((r) => r.max));
  const scale = (width - left - 90) / max;
  const height = top + w.rows.length * (barHeight + gap) + 20;
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const bars = w.rows
    .map((r, i) => {
      const y = top + i * (barHeight + gap);
      const color = r.kind === 'proactor' ? '#2f6fdf' : '#9aa3ad';
      return [
        `<text x="${left - 8}" y="${y + 15}" text-anchor="end">${esc(r.label)}</text>`,
        `<rect x="${left}" y="${y}" width="${(r.median * scale).toFixed(1)}" height="${barHeight}" fill="${color}"/>`,
        `<line x1="${left + r.min * scale}" x2="${left + r.max * scale}" y1="${y + barHeight / 2}" y2="${y + barHeight / 2}" stroke="#222"/>`,
        `<text x="${left + r.max * scale + 6}" y="${y + 15}">${fmt(r.median)}</text>`,
      ].join('');
    })
    .join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">
<text x="10" y="22" font-size="14" font-weight="bold">${esc(w.title)} (median ${esc(w.unit)}, line: min-max)</text>
${bars}
</svg>
`;
}

/** A table row from a variant's samples: median (of the middle two for an even count), min, max. */
export function rowFrom(label: string, kind: Row['kind'], samples: number[]): Row {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { label, kind, median, min: sorted[0], max: sorted[sorted.length - 1], samples };
}

/** Re-renders `<resultsDir>/README.md` from `<resultsDir>/latest.json`. */
export function rerender(resultsDir: string): void {
  const latest = join(resultsDir, 'latest.json');
  if (!existsSync(latest)) throw new Error(`${latest} does not exist: run a benchmark first`);
  const saved = JSON.parse(readFileSync(latest, 'utf8')) as { machine?: Machine; results: Workload[] };
  writeFileSync(join(resultsDir, 'README.md'), renderMarkdown(saved.machine ?? {}, saved.results));
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  rerender(fileURLToPath(new URL('../results', import.meta.url)));
}
