// Percentiles and the side-by-side table.

export interface Series {
  /** milliseconds (or bytes for memory rows: see `unit`) */
  samples: number[];
  /** set when the runtime could not run the scenario (e.g. "not implemented") */
  note?: string;
}

export interface Row {
  scenario: string;
  operation: string;
  unit: 'ms' | 'MiB';
  nori: Series;
  containerd?: Series;
}

/** Linear interpolation between closest ranks (as numpy's default). */
export function percentile(xs: number[], q: number): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const k = (s.length - 1) * q;
  const f = Math.floor(k);
  const c = Math.ceil(k);
  return s[f]! + (s[c]! - s[f]!) * (k - f);
}

export interface Summary {
  n: number;
  p50?: number;
  p90?: number;
  max?: number;
  note?: string;
}

export function summarize(s: Series | undefined): Summary {
  if (!s) return { n: 0, note: 'not run' };
  return {
    n: s.samples.length,
    p50: percentile(s.samples, 0.5),
    p90: percentile(s.samples, 0.9),
    max: s.samples.length ? Math.max(...s.samples) : undefined,
    note: s.note,
  };
}

export function ratio(a: Summary, b: Summary): number | undefined {
  return a.p50 !== undefined && b.p50 ? a.p50 / b.p50 : undefined;
}

const fmt = (v: number | undefined, unit: string) =>
  v === undefined ? '-' : unit === 'MiB' ? v.toFixed(1) : v >= 100 ? v.toFixed(0) : v.toFixed(1);

/** A markdown table (readable in a terminal too) for the rows of one scenario. */
export function table(rows: Row[], withContainerd: boolean): string {
  const head = ['operation', 'unit', 'nori n', 'p50', 'p90', 'max'];
  if (withContainerd) head.push('ctrd n', 'p50', 'p90', 'max', 'nori/ctrd p50');
  const lines: string[][] = [head];
  for (const r of rows) {
    const a = summarize(r.nori);
    const cells = [r.operation, r.unit];
    if (a.note && a.n === 0) cells.push('-', `nori: ${a.note}`, '', '');
    else cells.push(String(a.n), fmt(a.p50, r.unit), fmt(a.p90, r.unit), fmt(a.max, r.unit));
    if (withContainerd) {
      const b = summarize(r.containerd);
      if (b.note && b.n === 0) cells.push('-', `containerd: ${b.note}`, '', '');
      else cells.push(String(b.n), fmt(b.p50, r.unit), fmt(b.p90, r.unit), fmt(b.max, r.unit));
      const q = ratio(a, b);
      cells.push(q === undefined ? '-' : q.toFixed(2));
    }
    lines.push(cells);
  }
  const w = head.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? '').length)));
  const out = lines.map((l) => `| ${l.map((c, i) => c.padEnd(w[i]!)).join(' | ')} |`);
  out.splice(1, 0, `|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`);
  return out.join('\n');
}

export function jsonRows(rows: Row[]): object[] {
  return rows.map((r) => {
    const a = summarize(r.nori);
    const b = r.containerd ? summarize(r.containerd) : undefined;
    return {
      scenario: r.scenario,
      operation: r.operation,
      unit: r.unit,
      nori: { ...a, samples: r.nori.samples },
      containerd: b && r.containerd ? { ...b, samples: r.containerd.samples } : undefined,
      ratio_p50: b ? ratio(a, b) ?? null : null,
    };
  });
}
