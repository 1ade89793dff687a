// Prints the markdown tables of a saved run: `node dist/bench/report.js out.json` (for
// docs/performance.md).

import { readFileSync } from 'node:fs';
import { phaseTable, type PhaseRow } from './phases';
import { table, type Row } from './stats';

interface SavedSeries {
  samples: number[];
  note?: string;
}

interface Saved {
  started: string;
  options: Record<string, unknown>;
  machine: Record<string, string | number>;
  rows: Array<{ scenario: string; operation: string; unit: 'ms' | 'MiB'; nori: SavedSeries; containerd?: SavedSeries }>;
  noriPhases?: Record<string, PhaseRow[]>;
  cleanupProblems: string[];
}

const file = process.argv[2];
if (!file) {
  console.error('usage: node dist/bench/report.js RUN.json');
  process.exit(2);
}
const run = JSON.parse(readFileSync(file, 'utf8')) as Saved;
const rows: Row[] = run.rows.map((r) => ({
  scenario: r.scenario,
  operation: r.operation,
  unit: r.unit,
  nori: { samples: r.nori.samples, note: r.nori.note },
  containerd: r.containerd ? { samples: r.containerd.samples, note: r.containerd.note } : undefined,
}));
const withCtrd = rows.some((r) => r.containerd);
console.log(`Run of ${run.started}, options ${JSON.stringify(run.options)}\n`);
for (const scenario of [...new Set(rows.map((r) => r.scenario))]) {
  console.log(`### ${scenario}\n\n${table(rows.filter((r) => r.scenario === scenario), withCtrd)}\n`);
  const ph = run.noriPhases?.[scenario];
  if (ph?.length) console.log(`nori's own histograms over this scenario (server side):\n\n${phaseTable(ph)}\n`);
}
const m = run.machine;
console.log(`Machine: ${m.cpus} × ${m.cpuModel}, ${m.memGiB} GiB, kernel ${m.kernel}, Node ${m.node}; ${m.containerd}; ${m.runc}; ${m.conmon}.`);
if (run.cleanupProblems.length) console.log(`\nCleanup problems: ${run.cleanupProblems.join('; ')}`);
