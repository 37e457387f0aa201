export type BackoffOptions = { baseMs: number; capMs: number }

/**
 * Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And
 * Jitter"): a uniformly random delay in [0, min(cap, base * 2^(attempt-1))]. Jitter keeps
 * several relays from retrying in lockstep after a shared outage.
 * `attempt` counts consecutive failures, starting at 1. `random` is injectable for tests.
 */
export function backoffDelay(
  attempt: number,
  { baseMs, capMs }: BackoffOptions,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(attempt, 1) - 1, 30) // 2^30 already exceeds any sane cap
  const ceiling = Math.min(capMs, baseMs * 2 ** exponent)
  return Math.floor(random() * ceiling)
}
