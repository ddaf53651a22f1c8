/** A horizontal bar chart as a standalone SVG document: one bar per result, value and ratio labelled. */
export interface Bar {
  label: string;
  value: number;
  /** Shown after the value, e.g. "1.00x". */
  note: string;
}

function xmlText(text: string): string {
  return text.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function barChartSvg(title: string, unit: string, bars: Bar[]): string {
  const width = 760;
  const labelWidth = 280;
  const barHeight = 26;
  const top = 40;
  const height = top + bars.length * (barHeight + 10) + 20;
  const max = Math.max(...bars.map((b) => b.value), 1);
  const room = width - labelWidth - 190;
  const rows = bars.map((b, i) => {
    const y = top + i * (barHeight + 10);
    const w = Math.max(1, Math.round((b.value / max) * room));
    const value = `${Math.round(b.value).toLocaleString('en-US')} ${unit} (${b.note})`;
    return [
      `<text x="${labelWidth - 8}" y="${y + 18}" text-anchor="end">${xmlText(b.label)}</text>`,
      `<rect x="${labelWidth}" y="${y}" width="${w}" height="${barHeight}" fill="${i === 0 ? '#2f6fdf' : '#9aa5b1'}"/>`,
      `<text x="${labelWidth + w + 6}" y="${y + 18}">${xmlText(value)}</text>`,
    ].join('\n  ');
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">
  <rect width="100%" height="100%" fill="white"/>
  <text x="12" y="24" font-size="15" font-weight="bold">${xmlText(title)}</text>
  ${rows.join('\n  ')}
</svg>
`;
}
