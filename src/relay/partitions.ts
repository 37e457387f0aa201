/**
 * What this relay holds of the partitions: those it owns (their owner locks, session.ts), those
 * awake (their awake locks held: adaptive and poll modes) and those settling (released from
 * awake, or newly owned, whose trace check has not passed yet: awake.ts). The one owner of that
 * state: others read it and change it only through the named transitions below, each of which
 * keeps awake and settling within owned. No I/O here; the locks are taken by the callers.
 */
export class Partitions {
  #owned: number[] = []
  #awake: number[] = []
  #settling: number[] = []

  /** Ascending. */
  get owned(): number[] {
    return this.#owned
  }

  get awake(): number[] {
    return this.#awake
  }

  get settling(): number[] {
    return this.#settling
  }

  /** Joined anew, or found to have lost its locks: nothing is held. */
  reset(): void {
    this.#owned = []
    this.#awake = []
    this.#settling = []
  }

  /** Owner locks taken. Writers that skipped their NOTIFY under the previous owner may still run. */
  acquired(added: readonly number[]): void {
    this.#owned = [...this.#owned, ...added].sort((a, b) => a - b)
    this.#settling = [...this.#settling, ...added]
  }

  /** Owner locks given back (their awake locks first). The new owner checks their traces itself. */
  released(given: readonly number[]): void {
    const kept = (p: number) => !given.includes(p)
    this.#owned = this.#owned.filter(kept)
    this.#awake = this.#awake.filter(kept)
    this.#settling = this.#settling.filter(kept)
  }

  /** Every owned partition's awake lock is held. */
  get allAwake(): boolean {
    return this.#awake.length === this.#owned.length
  }

  /** Owned partitions whose awake lock is not held yet. */
  asleep(): number[] {
    return this.#owned.filter((p) => !this.#awake.includes(p))
  }

  /** Awake locks taken. */
  woke(taken: Iterable<number>): void {
    this.#awake = [...this.#awake, ...taken]
  }

  /** Every awake lock given back: returns the partitions whose trace locks must be checked now. */
  fellAsleep(): { released: number[]; check: number[] } {
    const released = this.#awake
    this.#awake = []
    return { released, check: [...new Set([...this.#settling, ...released])] }
  }

  /** A trace check ran: of the partitions checked, these are still settling. */
  settled(stillSettling: number[]): void {
    this.#settling = stillSettling
  }
}

/** Each live relay's fair share of the partitions. */
export function shareOf(partitions: number, relays: number): number {
  return Math.ceil(partitions / Math.max(relays, 1))
}

/** What a rebalance does with `owned` (ascending): give back those over the share, or take more. */
export function rebalancePlan(
  owned: readonly number[],
  share: number,
): { release: number[] } | { acquire: number } {
  if (owned.length > share) return { release: owned.slice(share) }
  return { acquire: share - owned.length }
}
