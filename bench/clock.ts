/**
 * The benchmark's clock: CLOCK_MONOTONIC in milliseconds. The same clock in every thread of the
 * process, so a response timed on the main thread and an arrival timed in the consumer's worker
 * can be subtracted (performance.now() counts from each thread's own origin).
 */
export const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6
