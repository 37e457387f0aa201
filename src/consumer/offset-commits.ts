/**
 * Commits consumed offsets every `intervalMs`, and once more on stop.
 *
 * Why not kafkajs's own autoCommit: in kafkajs 2.2.4 it commits after every fetched batch
 * (runner.js, handleBatch), whatever `autoCommitInterval` says, so the commit interval (src/config/fixed.ts)
 * would mean nothing. Here an offset is recorded only after its message's transaction has
 * committed, and committed later: a crash in between redelivers, which the inbox absorbs.
 *
 * After a rebalance kafkajs fetches from the committed offsets again, so progress not yet
 * committed is dropped rather than committed over partitions that may now be someone else's.
 */
import type { Consumer } from 'kafkajs'
import type { Logger } from '../logger'

/** How long stopping waits for the last commit; a broker outage must not hold up shutdown. */
const finalCommitTimeoutMs = 3000

export type OffsetCommits = {
  /** The message at `offset` of `partition` is handled: its successor is where to resume. */
  handled(partition: number, offset: string): void
  /** Forgets uncommitted progress (on a new assignment: it will be delivered again). */
  forget(): void
  /** Commits what is pending (bounded wait; not with `commit: false`) and stops the timer. */
  stop(options?: { commit: boolean }): Promise<void>
}

export function commitOffsetsEvery(
  consumer: Consumer,
  topic: string,
  intervalMs: number,
  log: Logger,
): OffsetCommits {
  let pending = new Map<number, string>()
  let flushing: Promise<void> | undefined

  const commit = async () => {
    const offsets = [...pending].map(([partition, offset]) => ({ topic, partition, offset }))
    pending = new Map()
    try {
      // kafkajs retries a failed commit itself (the consumer's retry settings).
      await consumer.commitOffsets(offsets)
    } catch (err) {
      // Not committed: keep them, unless newer progress on the partition was recorded since.
      for (const { partition, offset } of offsets)
        if (!pending.has(partition)) pending.set(partition, offset)
      log.warn({ err }, 'could not commit offsets; will try again')
    }
  }
  // One commit at a time: during a broker outage a commit waits, and ticks must not pile up.
  const flush = () => {
    if (pending.size === 0) return Promise.resolve()
    flushing ??= commit().finally(() => {
      flushing = undefined
    })
    return flushing
  }
  const timer = setInterval(flush, intervalMs)

  return {
    handled(partition, offset) {
      pending.set(partition, (BigInt(offset) + 1n).toString())
    },
    forget() {
      pending = new Map()
    },
    async stop({ commit } = { commit: true }) {
      clearInterval(timer)
      if (!commit) {
        pending = new Map()
        return
      }
      const last = (async () => {
        await flushing
        await flush()
      })()
      let timeout: NodeJS.Timeout | undefined
      await Promise.race([
        last,
        new Promise((resolve) => {
          timeout = setTimeout(resolve, finalCommitTimeoutMs)
        }),
      ])
      clearTimeout(timeout)
    },
  }
}
