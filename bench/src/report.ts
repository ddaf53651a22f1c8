/** Renders benchmark results as a Markdown table per workload and an SVG bar chart. */

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
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function renderMarkdown(machine: Record<string, unknown>, workloads: Workload[]): string {
  const lines = [
    '# proactor benchmark results',
    '',
    `Measured ${String(machine.date)} on ${String(machine.cpus)}, ${String(machine.memory)}, Node ${String(machine.node)};`,
    `${String(machine.runs)} runs of ${String(machine.secondsPerRun)} s per variant, interleaved; medians with min-max.`,
    'Ratios compare each proactor variant with each baseline measured in the same run.',
    '',
  ];
  for (const w of workloads) {
    const baselines = w.rows.filter((r) => r.kind === 'baseline');
    lines.push(`## ${w.title}`, '');
    if (w.measured && w.measured !== machine.date) lines.push(`(measured ${w.measured})`, '');
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
