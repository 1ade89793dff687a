// The tools that are the kernel's interface for what Node cannot read itself: netlink (`ip`),
// another netns (`nsenter`), and the packet filter (`iptables-save`, `nft`). Verbose status
// only, never a hot path. A tool that is missing or fails yields null, not an error: the view
// then says what it could not read.

import { execFile } from 'node:child_process';

export function runText(file: string, args: string[], timeoutMs = 5000): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, encoding: 'utf8', maxBuffer: 16 << 20 }, (err, stdout) => resolve(err ? null : String(stdout)));
  });
}
