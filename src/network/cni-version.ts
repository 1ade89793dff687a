// CNI spec versions, compared the way libcni's version.ParseVersion does: "" means 0.1.0,
// missing minor/micro parts are 0, more than three parts is an error.

import { InvalidArgumentError } from '../errors';

/** The newest spec version this implementation speaks (libcni's version.Current()). */
export const IMPLEMENTED_SPEC_VERSION = '1.1.0';

/** Result versions libcni can create (types 020, 040 and 100). */
export const KNOWN_RESULT_VERSIONS: readonly string[] = [
  '0.1.0',
  '0.2.0',
  '0.3.0',
  '0.3.1',
  '0.4.0',
  '1.0.0',
  '1.1.0',
];

export type VersionTriple = readonly [number, number, number];

export function parseCniVersion(version: string): VersionTriple {
  if (version === '') return [0, 1, 0];
  const parts = version.split('.');
  if (parts.length >= 4) throw new InvalidArgumentError(`invalid CNI version "${version}": too many parts`);
  const nums = parts.map((p) => {
    if (!/^[0-9]+$/.test(p)) throw new InvalidArgumentError(`invalid CNI version "${version}": "${p}" is not a number`);
    return Number(p);
  });
  return [nums[0] ?? 0, nums[1] ?? 0, nums[2] ?? 0];
}

/** Negative, zero or positive as a is older than, equal to or newer than b. */
export function compareCniVersions(a: string, b: string): number {
  const x = parseCniVersion(a);
  const y = parseCniVersion(b);
  for (let i = 0; i < 3; i++) {
    if (x[i] !== y[i]) return x[i]! - y[i]!;
  }
  return 0;
}

export function cniVersionAtLeast(version: string, min: string): boolean {
  return compareCniVersions(version, min) >= 0;
}

export function isValidCniVersion(version: string): boolean {
  try {
    parseCniVersion(version);
    return true;
  } catch {
    return false;
  }
}
