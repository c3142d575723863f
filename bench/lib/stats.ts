/** Pure helpers for benchmark results: median and spread of repetitions, Markdown tables. */

export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function spread(values: number[]): Spread {
  return {
    median: median(values),
    min: values.length ? Math.min(...values) : Number.NaN,
    max: values.length ? Math.max(...values) : Number.NaN,
    n: values.length,
  };
}

/** "12.3 (10.1-14.0)": the median, then min-max when there is more than one value. */
export function formatSpread(s: Spread, digits = 1): string {
  if (Number.isNaN(s.median)) return 'n/a';
  const m = s.median.toFixed(digits);
  return s.n > 1 && s.min !== s.max ? `${m} (${s.min.toFixed(digits)}-${s.max.toFixed(digits)})` : m;
}

/** "yes", "no", or "3/4 yes" when repetitions disagree. */
export function formatAll(values: boolean[]): string {
  const yes = values.filter(Boolean).length;
  if (values.length === 0) return 'n/a';
  if (yes === values.length) return 'yes';
  if (yes === 0) return 'no';
  return `${yes}/${values.length} yes`;
}

export function markdownTable(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(3, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => `| ${widths.map((w, i) => (r[i] ?? '').padEnd(w)).join(' | ')} |`;
  return [
    line(header),
    `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`,
    ...cells.slice(1).map(line),
  ].join('\n');
}

export const seconds = (ms: number): number => ms / 1000;
export const mebibytes = (bytes: number): number => bytes / 1024 / 1024;
