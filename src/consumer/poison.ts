/**
 * What the consumer does with a message it cannot handle.
 *
 * - The database is unreachable or busy (connection errors, SQLSTATE classes 08, 40, 53, 57,
 *   55P03): not the message's fault. It is retried for as long as it takes, as before: an outage
 *   of any length ends with the consumer catching up, nothing skipped.
 * - A domain rule refuses it (InventoryRefusal): the same answer every time, parked at once.
 * - Anything else (the data breaks a column, a bug): retried `maxAttempts` times with backoff,
 *   then parked in inventory.parked_messages with its reason, and the partition moves on.
 *
 * Parking holds back only what must wait: the parked event's order never reaches its version,
 * so that order's later events park in the inbox as gaps (as the outbox holds an aggregate's
 * events behind a dead one); other orders on the partition flow. `npm run consume -- retry` or
 * `skip` releases it (admin.ts).
 */
import { InventoryRefusal } from './refusal'

const unavailableCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  '55P03', // lock_not_available
])
const unavailableClasses = new Set(['08', '40', '53', '57'])

/** The driver's error code, also when the ORM wrapped the error (drizzle's `cause`). */
function codeOf(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string') return code
  }
  return undefined
}

export type Failure = 'unavailable' | 'refused' | 'failed'

export function classifyFailure(err: unknown): Failure {
  if (err instanceof InventoryRefusal) return 'refused'
  const code = codeOf(err)
  if (code && (unavailableCodes.has(code) || unavailableClasses.has(code.slice(0, 2))))
    return 'unavailable'
  return 'failed'
}

/** The first line of what went wrong, with the SQLSTATE when there is one; no parameters. */
export function reasonOf(err: unknown): string {
  const code = codeOf(err)
  let e: unknown = err
  // drizzle wraps the driver's error in "Failed query: <sql> params: <values>": the cause is
  // the database's own message, which names no parameter values.
  while ((e as { cause?: unknown }).cause instanceof Error) e = (e as { cause: Error }).cause
  const message = e instanceof Error ? e.message : String(e)
  return `${code && !(err instanceof InventoryRefusal) ? `${code}: ` : ''}${message.split('\n')[0]}`
}

export type PoisonPolicy = {
  maxAttempts: number
  /** First wait between attempts; doubles each time, capped at 5 s. */
  backoffMs: number
  /** Between attempts: keeps the group membership (kafkajs heartbeats only between messages). */
  heartbeat: () => Promise<void>
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; reason: string; attempts: number }

/**
 * Runs `attempt` until it succeeds, the database is down (rethrown: kafkajs redelivers), or the
 * message is judged poison: then it returns the reason, for `park`.
 */
export async function attemptOrGiveUp<T>(
  attempt: () => Promise<T>,
  policy: PoisonPolicy,
  onRetry: (err: unknown, attempts: number) => void,
): Promise<Outcome<T>> {
  for (let attempts = 1; ; attempts++) {
    try {
      return { ok: true, value: await attempt() }
    } catch (err) {
      const failure = classifyFailure(err)
      if (failure === 'unavailable') throw err
      if (failure === 'refused' || attempts >= policy.maxAttempts)
        return { ok: false, reason: reasonOf(err), attempts }
      onRetry(err, attempts)
      await policy.heartbeat()
      await sleep(Math.min(policy.backoffMs * 2 ** (attempts - 1), 5000))
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
