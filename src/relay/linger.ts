/**
 * Linger, like a Kafka producer's linger.ms: after a drain that published something, an
 * adaptive relay stays awake for its linger (src/config/fixed.ts), claiming again every LINGER_CLAIM_EVERY_MS,
 * before it goes to sleep. While it is awake, writers skip their NOTIFY; so under a steady
 * stream the doorbell falls silent (a NOTIFY serialises commits), and a sparse stream, whose
 * gaps are longer than the linger, still wakes the relay for each event. 0 turns it off.
 */
export const LINGER_CLAIM_EVERY_MS = 1

export type LingerStep = { claimInMs: number } | 'settle'

/** What to do `quietMs` after the last event was published. */
export function lingerStep(quietMs: number, lingerMs: number): LingerStep {
  if (quietMs >= lingerMs) return 'settle'
  return { claimInMs: Math.min(LINGER_CLAIM_EVERY_MS, lingerMs - quietMs) }
}
