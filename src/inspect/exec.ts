// The tools that are the kernel's interface for what nori does not read in-process: the
// iptables rules CNI plugins write (`iptables-save`), and `nft` when libnftables is missing.
// Links and addresses are read through rtnetlink in-process (src/sys/net_links.ts). Verbose
// status only. A tool that is missing or fails yields null, not an error: the view then says
// what it could not read.

import { execFile } from 'node:child_process';

export function runText(file: string, args: string[], timeoutMs = 5000): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, encoding: 'utf8', maxBuffer: 16 << 20 }, (err, stdout) => resolve(err ? null : String(stdout)));
  });
}
