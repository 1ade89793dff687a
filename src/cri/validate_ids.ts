// Ids in requests: refused when empty, not text, or a prefix of several objects. A prefix that
// names one object still works (crictl users type short ids), but a prefix naming two must not
// silently pick one or, for the idempotent Stop/Remove calls, silently do nothing.

import { InvalidArgumentError } from '../errors';
import type { HandlerTable, StreamHandler, UnaryHandler } from './context';

/** U+FFFD is what the decoder leaves for invalid UTF-8; NUL cannot be in a path or an argv. */
export function isCleanText(s: string): boolean {
  return !s.includes('\uFFFD') && !s.includes('\0');
}

export function checkId(field: string, value: string, kind: string, ids?: () => Iterable<string>): void {
  if (!value) throw new InvalidArgumentError(`${field} is required`);
  if (!isCleanText(value)) throw new InvalidArgumentError(`${field} is not valid UTF-8 text`);
  if (!ids) return;
  let matches = 0;
  for (const id of ids()) {
    if (id === value) return;
    if (id.startsWith(value)) matches++;
  }
  if (matches > 1) throw new InvalidArgumentError(`${field} "${value}" is ambiguous: it is a prefix of ${matches} ${kind} ids`);
}

/**
 * Wraps the handlers named in `rpcs` so that `req[field]` passes checkId before the handler runs.
 * `field` is the decoded (camelCase) name, e.g. containerId.
 */
export function guardIds(table: HandlerTable, rpcs: string[], field: string, kind: string, ids?: () => Iterable<string>): HandlerTable {
  const out: HandlerTable = { ...table };
  const wire = field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  for (const rpc of rpcs) {
    const h = table[rpc] as ((req: any, ...rest: any[]) => Promise<any>) | undefined;
    if (!h) continue;
    out[rpc] = ((req: Record<string, unknown>, ...rest: unknown[]) => {
      try {
        checkId(wire, String(req?.[field] ?? ''), kind, ids);
      } catch (e) {
        return Promise.reject(e);
      }
      return h(req, ...rest);
    }) as UnaryHandler & StreamHandler;
  }
  return out;
}
