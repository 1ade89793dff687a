// One line of `nori doctor`: a host fact nori depends on, judged PASS, WARN or FAIL. A FAIL is
// a blocking problem (pods or nori itself cannot work) and carries the fix in one line; a WARN
// is something that works with a limit the operator should know, and says how to lift it.

export type CheckStatus = 'PASS' | 'WARN' | 'FAIL';

export type CheckArea = 'kernel' | 'cgroups' | 'binaries' | 'network' | 'files' | 'registries';

export interface Check {
  area: CheckArea;
  /** Short stable name, e.g. "overlayfs", "runtime runc". */
  name: string;
  status: CheckStatus;
  /** What was found, in one line. */
  message: string;
  /** For WARN and FAIL: what to do, in one line. */
  fix?: string;
  /** Raw facts behind the verdict, for --json readers. */
  facts?: Record<string, unknown>;
}

export const pass = (area: CheckArea, name: string, message: string, facts?: Record<string, unknown>): Check => ({
  area, name, status: 'PASS', message, ...(facts ? { facts } : {}),
});

export const warn = (area: CheckArea, name: string, message: string, fix: string, facts?: Record<string, unknown>): Check => ({
  area, name, status: 'WARN', message, fix, ...(facts ? { facts } : {}),
});

export const fail = (area: CheckArea, name: string, message: string, fix: string, facts?: Record<string, unknown>): Check => ({
  area, name, status: 'FAIL', message, fix, ...(facts ? { facts } : {}),
});
