/**
 * Waits on other sessions, made visible. The relay never blocks on a lock, but a partition can
 * stay out of its reach: a writer that rang holds the partition's awake lock until it commits
 * (the partition cannot be made awake, so it stays asleep and its writers keep ringing), or a
 * writer that skipped its NOTIFY holds the trace lock (the partition cannot go to sleep yet).
 * Either way another session's transaction is in the way. Past WAIT_REPORT_MS the relay logs
 * one warning for the episode, naming the partition and the blocking pid, and counts it.
 * This class only keeps the books; it is pure and unit-tested.
 */
export type WaitLock = 'awake' | 'trace'

export const WAIT_REPORT_MS = 1000

type Episode = { since: number; reported: boolean }

export class LockWaits {
  readonly #episodes = new Map<string, Episode>()

  /**
   * One attempt on `checked` partitions, of which `blocked` could not be had. Returns the
   * partitions whose wait has just passed `WAIT_REPORT_MS` (each reported once per episode).
   */
  attempt(lock: WaitLock, checked: readonly number[], blocked: readonly number[], now: number) {
    const due: { partition: number; waitedMs: number }[] = []
    for (const p of checked) {
      const key = `${lock}:${p}`
      if (!blocked.includes(p)) {
        this.#episodes.delete(key)
        continue
      }
      const episode = this.#episodes.get(key) ?? { since: now, reported: false }
      this.#episodes.set(key, episode)
      if (!episode.reported && now - episode.since >= WAIT_REPORT_MS) {
        episode.reported = true
        due.push({ partition: p, waitedMs: now - episode.since })
      }
    }
    return due
  }

  /** Forgets partitions no longer owned. */
  keepOnly(owned: readonly number[]): void {
    for (const key of this.#episodes.keys()) {
      if (!owned.includes(Number(key.split(':')[1]))) this.#episodes.delete(key)
    }
  }

  /** How long the longest wait in progress has lasted (0 if none). */
  longestMs(now: number): number {
    let longest = 0
    for (const e of this.#episodes.values()) longest = Math.max(longest, now - e.since)
    return longest
  }
}
