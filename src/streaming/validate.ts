// Request checks kubelet's streaming server makes before issuing a URL; the CRI handlers call
// this (besides their own container/sandbox state checks).

import { InvalidArgumentError } from '../errors';

export function validateStreamRequest(req: { tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }): void {
  if (req.tty && req.stderr) throw new InvalidArgumentError('tty and stderr cannot both be true');
  if (!req.stdin && !req.stdout && !req.stderr) throw new InvalidArgumentError('one of stdin, stdout, or stderr must be set');
}
