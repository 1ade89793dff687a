// What all connections of one server share. Each connection bounds its own calls and held
// request bytes (h2_connection.ts), but a client can open many connections; without a shared
// bound, N connections hold N times the per-connection limit. The budget caps calls in progress
// and the request bytes held by calls in progress across the whole server.

/** Calls in progress on all connections together; a stream past it is refused (REFUSED_STREAM, safe to retry). */
export const MAX_SERVER_CALLS = 4000;
/** Request bytes all connections' calls in progress may hold together (a request counts until its method settles). */
export const MAX_SERVER_HELD_BYTES = 256 * 1024 * 1024;

/** A connection that withheld window because the budget was spent. */
export interface BudgetDebtor {
  /** Grants what it withheld while the budget (and its own limit) allows; true when it owes nothing more. */
  payOwed(): boolean;
}

export class SharedBudget {
  private calls = 0;
  private held = 0;
  private readonly debtors = new Set<BudgetDebtor>();

  constructor(
    readonly maxCalls = MAX_SERVER_CALLS,
    readonly maxHeld = MAX_SERVER_HELD_BYTES,
  ) {}

  /** Counts a new call; false (and nothing counted) when the server is full. */
  startCall(): boolean {
    if (this.calls >= this.maxCalls) return false;
    this.calls++;
    return true;
  }

  endCall(): void {
    this.calls--;
  }

  /** Counts request bytes a call now holds; false when the server holds more than it allows. */
  hold(n: number): boolean {
    this.held += n;
    return this.held <= this.maxHeld;
  }

  get hasRoom(): boolean {
    return this.held <= this.maxHeld;
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
    for (const d of this.debtors) {
      if (!this.hasRoom) return;
      if (d.payOwed()) this.debtors.delete(d);
    }
  }
}
