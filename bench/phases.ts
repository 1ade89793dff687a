// Where nori's time goes: every `nori_*_seconds` histogram on its /metrics endpoint, scraped
// before and after a scenario; the difference of _sum and _count gives the mean per label set
// over that scenario. Phase histograms nori adds later (CNI, conmon, runtime, mount, store...)
// show up here without a change to the bench.

export type Scrape = Map<string, { sum: number; count: number }>;

export async function scrape(url: string | undefined): Promise<Scrape | undefined> {
  if (!url) return undefined;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) return undefined;
    return parse(await res.text());
  } catch {
    return undefined;
  }
}

export function parse(text: string): Scrape {
  const out: Scrape = new Map();
  for (const line of text.split('\n')) {
    const m = /^(nori_\w+_seconds)_(sum|count)(\{[^}]*\})? ([0-9.eE+-]+|NaN)$/.exec(line);
    if (!m) continue;
    const key = `${m[1]}${m[3] ?? ''}`;
    const e = out.get(key) ?? { sum: 0, count: 0 };
    e[m[2] as 'sum' | 'count'] = Number(m[4]);
    out.set(key, e);
  }
  return out;
}

export interface PhaseRow {
  metric: string;
  count: number;
  meanMs: number;
  totalMs: number;
}

export function diff(before: Scrape | undefined, after: Scrape | undefined): PhaseRow[] {
  if (!after) return [];
  const rows: PhaseRow[] = [];
  for (const [metric, a] of after) {
    const b = before?.get(metric) ?? { sum: 0, count: 0 };
    const count = a.count - b.count;
    if (count <= 0) continue;
    const totalMs = (a.sum - b.sum) * 1000;
    rows.push({ metric, count, meanMs: totalMs / count, totalMs });
  }
  return rows.sort((x, y) => y.totalMs - x.totalMs);
}

export function phaseTable(rows: PhaseRow[]): string {
  const lines = [['nori metric {labels}', 'count', 'mean ms', 'total ms']];
  for (const r of rows) lines.push([r.metric, String(r.count), r.meanMs.toFixed(1), r.totalMs.toFixed(0)]);
  const w = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  const out = lines.map((l) => `| ${l.map((c, i) => c.padEnd(w[i]!)).join(' | ')} |`);
  out.splice(1, 0, `|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`);
  return out.join('\n');
}
