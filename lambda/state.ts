// What a decision remembers about a pair (docs/contract.md, "Pair state"): one DynamoDB item per pair,
// read strongly consistent, every write conditional. Never the ENI's tags: EC2 allows 50 per resource and
// they are the owner's; they have no compare-and-swap and are read with a lag (EC2 API Reference,
// "Eventual consistency"). Types and the port only; lambda/aws/state.ts talks to DynamoDB.

/** The pair's lease: the one invocation that may change its ENI until `until` (epoch ms). */
export interface Lease {
  /** The invocation that holds it. */
  readonly owner: string;
  /** Where it moves the ENI. */
  readonly target: string;
  readonly takenAt: number;
  readonly until: number;
}

/** What the prober last said about one member (docs/contract.md event 8), epoch ms. */
export interface ProbeObservation {
  /** The last failure of evidence about it, and how many probes in a row had failed then. */
  readonly failedAt?: number;
  readonly failures?: number;
  /** The last time evidence about the other member saw it pass. */
  readonly passedAt?: number;
}

/** The last move this function made, for status, the breadcrumb and the rules that must not undo it. */
export interface LastMove {
  readonly at: number;
  readonly from: string | null;
  readonly to: string;
  readonly reason: string;
  readonly automatic: boolean;
  /** The move was made on probe evidence alone (the holder passed EC2's checks). */
  readonly probe: boolean;
}

/** One pair's item. */
export interface PairRecord {
  /** Bumped by every write but an observation's: the compare-and-swap reads it back. 0: no item yet. */
  readonly version: number;
  readonly lease?: Lease;
  /** The automatic moves of the last hour (epoch ms, oldest first): the cool-down and the flap limit count them. */
  readonly automaticMoves: readonly number[];
  /** The newest automatic move a `flapping` refusal was paged for: one page a flapping episode. */
  readonly flappingPaged?: string;
  /** The last "redundancy ends" notice paged about each member: the same notice pages once. */
  readonly notices: { readonly primary?: string; readonly standby?: string };
  /** The last refusal of repeated probe evidence that was paged (its checks, since the last automatic move). */
  readonly probeRefusalPaged?: string;
  /** The holder that failed during maintenance, paged once as DOWN ("<instance> <failure>"). */
  readonly downPaged?: string;
  /** An operator's window: automatic moves are paused until then (epoch ms). */
  readonly maintenance?: { readonly until: number; readonly by: string };
  /** The last forced detach off an instance that still ran: it is no target until stopped and started. */
  readonly forcedDetach?: { readonly instanceId: string; readonly at: number };
  /** The prober's latest word on each member, by instance ID. */
  readonly probes: Readonly<Record<string, ProbeObservation>>;
  readonly lastMove?: LastMove;
  /** Records an earlier version kept in the ENI's tags were carried in (docs/contract.md, "Pair state"). */
  readonly migrated?: boolean;
}

export const EMPTY_RECORD: PairRecord = { version: 0, automaticMoves: [], notices: {}, probes: {} };

/** How long a lease lasts unless renewed: a mover that died delays healing by at most this. */
export const LEASE_TERM_MS = 60_000;
/** How long the table may take to answer before a move off a dead holder goes ahead without it. */
export const STATE_BOUND_MS = 5_000;

/** The fields a change may set; `null` removes one. */
export type RecordChange = {
  readonly [K in Exclude<keyof PairRecord, 'version'>]?: PairRecord[K] | null;
};

/** The pair state as the function uses it; lambda/aws/state.ts implements it over DynamoDB. */
export interface StatePort {
  /** The pair's item, strongly consistent; EMPTY_RECORD when there is none yet. */
  read(pair: string): Promise<PairRecord>;
  /**
   * Takes the lease if no one holds it or it has expired at `lease.takenAt` (or this owner holds it), and the
   * record is still at `seen`, the version the decision was made on: undefined when taken; the live lease that
   * stands in the way; or `stale` when the record changed since (another invocation's move): look again.
   */
  takeLease(pair: string, lease: Lease, seen: number): Promise<Lease | 'stale' | undefined>;
  /** Writes the owner's lease anew (a later `until`); false when its owner no longer holds it. */
  renewLease(pair: string, lease: Lease): Promise<boolean>;
  /**
   * Applies `change` to the record as read, by compare-and-swap on its version, reading again and
   * re-applying when another write came between. `change` answers undefined to write nothing (what it
   * wanted is already there); the answer is the record written, or undefined when nothing was written.
   * With `owner`, the write also releases that owner's lease (and is made only while it holds it or no one does).
   */
  change(
    pair: string,
    change: (record: PairRecord) => RecordChange | undefined,
    options?: { readonly releaseLease?: string },
  ): Promise<PairRecord | undefined>;
  /** Records the prober's observation of a member, unless a newer one is there (conditional on its time). */
  observe(pair: string, instanceId: string, observation: ProbeObservation): Promise<void>;
  /**
   * The rehearsal's write (docs/contract.md event 9): a conditional write that can never succeed and so
   * changes nothing, which proves the function may write the pair's item. Undefined when allowed, else the
   * error's name and message (AccessDeniedException above all).
   */
  rehearse(pair: string): Promise<string | undefined>;
  /** Throttling, a 5xx, a timeout, a dropped connection: worth asking again. */
  isTransient(error: unknown): boolean;
}
