// The built-in network's state: IP leases and hostPort claims, by sandbox. They live in the
// daemon's SQLite store, so they survive a restart and a kill -9, and a sandbox's attachment is
// "has a lease row": what teardown, rollback and the orphan sweep release.

import type { Statement } from 'better-sqlite3';
import type { Db, Migration } from './types';

export const NET_LEASES_MIGRATION: Migration = {
  version: 5,
  description: 'built-in network: IP leases and hostPort claims',
  sql: `
    CREATE TABLE net_leases (
      ip         TEXT PRIMARY KEY,    -- canonical text (Node's net.SocketAddress form)
      sandbox_id TEXT NOT NULL,
      subnet     TEXT NOT NULL,       -- the CIDR it came from
      created_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX net_leases_by_sandbox ON net_leases (sandbox_id);
    CREATE TABLE net_hostports (
      protocol       TEXT NOT NULL,   -- tcp | udp | sctp
      host_ip        TEXT NOT NULL,   -- "" = every local address
      host_port      INTEGER NOT NULL,
      family         INTEGER NOT NULL, -- 4 | 6: which map the claim's element is in
      sandbox_id     TEXT NOT NULL,
      pod_ip         TEXT NOT NULL,
      container_port INTEGER NOT NULL,
      PRIMARY KEY (protocol, host_ip, host_port, family)
    ) STRICT;
    CREATE INDEX net_hostports_by_sandbox ON net_hostports (sandbox_id);
  `,
};

export interface Lease {
  ip: string;
  sandboxId: string;
  subnet: string;
}

export interface HostPortClaim {
  protocol: 'tcp' | 'udp' | 'sctp';
  hostIp: string;
  hostPort: number;
  family: 4 | 6;
  sandboxId: string;
  podIp: string;
  containerPort: number;
}

interface ClaimRow {
  protocol: string;
  host_ip: string;
  host_port: number;
  family: number;
  sandbox_id: string;
  pod_ip: string;
  container_port: number;
}

function claimOf(r: ClaimRow): HostPortClaim {
  return {
    protocol: r.protocol as HostPortClaim['protocol'],
    hostIp: r.host_ip,
    hostPort: r.host_port,
    family: r.family === 6 ? 6 : 4,
    sandboxId: r.sandbox_id,
    podIp: r.pod_ip,
    containerPort: r.container_port,
  };
}

export class LeaseStore {
  /** IPAM asks it for each candidate address: prepared once, not per ask. */
  private leasedQuery?: Statement<[string], { one: number }>;

  constructor(private readonly db: Db) {}

  /** Whether `ip` (canonical text) is leased: one primary-key lookup, however many pods there are. */
  isLeased(ip: string): boolean {
    this.leasedQuery ??= this.db.prepare<[string], { one: number }>('SELECT 1 AS one FROM net_leases WHERE ip = ?');
    return this.leasedQuery.get(ip) !== undefined;
  }

  bySandbox(sandboxId: string): Lease[] {
    return this.db
      .prepare<[string], { ip: string; sandbox_id: string; subnet: string }>('SELECT ip, sandbox_id, subnet FROM net_leases WHERE sandbox_id = ? ORDER BY rowid')
      .all(sandboxId)
      .map((r) => ({ ip: r.ip, sandboxId: r.sandbox_id, subnet: r.subnet }));
  }

  /** Every sandbox id holding a lease or a claim. */
  sandboxIds(): string[] {
    return this.db
      .prepare<[], { sandbox_id: string }>('SELECT sandbox_id FROM net_leases UNION SELECT sandbox_id FROM net_hostports')
      .all()
      .map((r) => r.sandbox_id);
  }

  /** Subnets some lease is in (their masquerade rules must stay while those pods live). */
  subnets(): string[] {
    return this.db.prepare<[], { subnet: string }>('SELECT DISTINCT subnet FROM net_leases').all().map((r) => r.subnet);
  }

  claims(sandboxId?: string): HostPortClaim[] {
    const rows =
      sandboxId === undefined
        ? this.db.prepare<[], ClaimRow>('SELECT * FROM net_hostports ORDER BY rowid').all()
        : this.db.prepare<[string], ClaimRow>('SELECT * FROM net_hostports WHERE sandbox_id = ? ORDER BY rowid').all(sandboxId);
    return rows.map(claimOf);
  }

  /** The claim holding (protocol, hostIp, hostPort, family), if any. */
  claimOn(c: Pick<HostPortClaim, 'protocol' | 'hostIp' | 'hostPort' | 'family'>): HostPortClaim | undefined {
    const r = this.db
      .prepare<[string, string, number, number], ClaimRow>('SELECT * FROM net_hostports WHERE protocol = ? AND host_ip = ? AND host_port = ? AND family = ?')
      .get(c.protocol, c.hostIp, c.hostPort, c.family);
    return r ? claimOf(r) : undefined;
  }

  /** Leases and claims of one sandbox, all or nothing (one transaction). */
  insert(leases: readonly Lease[], claims: readonly HostPortClaim[]): void {
    const lease = this.db.prepare('INSERT INTO net_leases (ip, sandbox_id, subnet, created_at) VALUES (?, ?, ?, ?)');
    const claim = this.db.prepare(
      'INSERT INTO net_hostports (protocol, host_ip, host_port, family, sandbox_id, pod_ip, container_port) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.db.transaction(() => {
      const now = Date.now();
      for (const l of leases) lease.run(l.ip, l.sandboxId, l.subnet, now);
      for (const c of claims) claim.run(c.protocol, c.hostIp, c.hostPort, c.family, c.sandboxId, c.podIp, c.containerPort);
    })();
  }

  /** Frees a sandbox's leases and claims. */
  release(sandboxId: string): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM net_leases WHERE sandbox_id = ?').run(sandboxId);
      this.db.prepare('DELETE FROM net_hostports WHERE sandbox_id = ?').run(sandboxId);
    })();
  }
}
