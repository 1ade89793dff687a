// Subcommands (`nori doctor`, `nori inspect`) read the daemon's configuration flags like `nori`
// itself, plus a few boolean flags of their own; those are taken out of argv first so the
// daemon's flag parser never sees them.

import { FLAGS } from '../config';

export const SUBCOMMAND_FLAGS: Readonly<Record<string, readonly string[]>> = {
  doctor: ['json', 'online'],
  inspect: ['json'],
};

/** The first positional word of argv, skipping daemon flags and their values. */
export function subcommandOf(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) return a;
    const name = a.slice(2);
    if (!a.includes('=') && FLAGS.some((f) => f.flag === name)) i++;
  }
  return undefined;
}

export function takeSubcommandFlags(argv: readonly string[]): { argv: string[]; own: Set<string> } {
  const allowed = SUBCOMMAND_FLAGS[subcommandOf(argv) ?? ''] ?? [];
  const own = new Set<string>();
  const rest: string[] = [];
  for (const a of argv) {
    if (a.startsWith('--') && allowed.includes(a.slice(2))) own.add(a.slice(2));
    else rest.push(a);
  }
  return { argv: rest, own };
}
