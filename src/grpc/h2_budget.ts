// What all connections of one server share. Each connection bounds its own calls and held
// request bytes (h2_connection.ts), but a client can open many connections; without a shared
// bound, N connections hold N times the per-connection limit. The budget caps calls in progress
// and the request bytes held by calls in progress across the whole server.
//
// A spent budget must not lock every other client out: one client that fills it would leave
// kubelet's next call refused until that client stops. So each connection keeps a small share
// the others cannot take: a few calls, and a few requests' bytes. The server then holds at most
// the shared limit plus the kept share of each open connection (which h2_server.ts caps).

/** Calls in progress on all connections together; a stream past it is refused (REFUSED_STREAM, safe to retry). */
export const MAX_SERVER_CALLS = 2048;
/** Request bytes all connections' calls in progress may hold together (a request counts until its method settles). */
export const MAX_SERVER_HELD_BYTES = 256 * 1024 * 1024;
/** Calls a connection may start even when the server-wide count is spent. */
export const CALLS_KEPT_PER_CONNECTION = 4;
/** Request bytes a connection's calls may hold even when the server-wide limit is spent. */
export const HELD_BYTES_KEPT_PER_CONNECTION = 256 * 1024;

/**
 * Request bytes held server-wide past which a burst is under way. When held bytes fall back
 * under a sixteenth of it, the burst is over and `onBurstOver` runs: the burst's buffers are
 * garbage now, and the daemon can give their memory back (memory_trim.ts).
 */
export const BURST_HELD_BYTES = 32 * 1024 * 1024;

/** A connection that withheld window because the budget was spent. */
export interface BudgetDebtor {
  /** Grants what it withheld while the budget (and its own limit) allows; true when it owes nothing more. */
  payOwed(): boolean;
}

export interface BudgetLimits {
  maxCalls?: number;
  maxHeld?: number;
  callsKept?: number;
  heldKept?: number;
  burstBytes?: number;
}

export class SharedBudget {
  readonly maxCalls: number;
  readonly maxHeld: number;
  readonly callsKept: number;
  readonly heldKept: number;
  readonly burstBytes: number;
  /** New streams answered REFUSED_STREAM on any connection (the call limits, or a connection closing). */
  streamsRefused = 0;
  /** Runs once each time held bytes fall back under a sixteenth of burstBytes after passing it. */
  onBurstOver: (() => void) | undefined;
  private calls = 0;
  private held = 0;
  private inBurst = false;
  private readonly debtors = new Set<BudgetDebtor>();

  constructor(limits: BudgetLimits = {}) {
    this.maxCalls = limits.maxCalls ?? MAX_SERVER_CALLS;
    this.maxHeld = limits.maxHeld ?? MAX_SERVER_HELD_BYTES;
    this.callsKept = limits.callsKept ?? CALLS_KEPT_PER_CONNECTION;
    this.heldKept = limits.heldKept ?? HELD_BYTES_KEPT_PER_CONNECTION;
    this.burstBytes = limits.burstBytes ?? BURST_HELD_BYTES;
  }

  /**
   * Counts a new call of a connection that has `connectionCalls` in progress; false (and nothing
   * counted) when the server is full and the connection has used its kept share.
   */
  startCall(connectionCalls: number): boolean {
    if (this.calls >= this.maxCalls && connectionCalls >= this.callsKept) return false;
    this.calls++;
    return true;
  }

  endCall(): void {
    this.calls--;
  }

  /** Counts request bytes a call now holds. */
  hold(n: number): void {
    this.held += n;
    if (this.held > this.burstBytes) this.inBurst = true;
  }

  /** Whether a connection whose calls hold `connectionHeld` bytes may be granted more window. */
  allows(connectionHeld: number): boolean {
    return this.held <= this.maxHeld || connectionHeld < this.heldKept;
  }

  /** `debtor` is owed window it may be granted once bytes are let go. */
  owe(debtor: BudgetDebtor): void {
    this.debtors.add(debtor);
  }

  /** A connection that is gone is owed nothing. */
  forget(debtor: BudgetDebtor): void {
    this.debtors.delete(debtor);
  }

  /** Bytes a call held are free again: connections that waited on the budget are paid, oldest first. */
  letGo(n: number): void {
    this.held -= n;
    if (this.inBurst && this.held < this.burstBytes / 16) {
      this.inBurst = false;
      this.onBurstOver?.();
    }
    for (const d of this.debtors) {
      // a debtor holds at least its kept share (it would not owe otherwise): only shared room pays it
      if (this.held > this.maxHeld) return;
      if (d.payOwed()) this.debtors.delete(d);
    }
  }
}
