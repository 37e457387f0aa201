import { ConfigError } from '../config'
import { WakeupMismatch } from '../db/doorbell-trigger'
import { PortInUse } from '../http/listen'

export type Stoppable = { stop(): Promise<void> }

/**
 * A start failure the user fixes with a setting or an install: printed as its one-line
 * message, without a stack trace.
 */
export class StartFailure extends Error {
  override name = 'StartFailure'
}

/**
 * Runs an entrypoint: prints configuration problems (all of them) and exits 1; on
 * SIGTERM/SIGINT stops what `start` returned and exits 0, or exits 1 if stopping hangs. A
 * signal that arrives while `start` is still running stops the service as soon as it is up,
 * so nothing it started is left behind.
 */
export function runMain(start: () => Promise<Stoppable>, hardTimeoutMs = 30_000): void {
  let service: Stoppable | undefined
  let stopping = false
  const stopAndExit = (s: Stoppable) =>
    s.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`shutdown failed: ${String(err)}\n`)
        process.exit(1)
      },
    )
  const shutdown = (signal: string) => {
    if (stopping) return
    stopping = true
    process.stderr.write(`${signal} received, shutting down\n`)
    setTimeout(() => process.exit(1), hardTimeoutMs).unref()
    if (service) stopAndExit(service)
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
  start().then(
    (started) => {
      service = started
      if (stopping) stopAndExit(started)
    },
    (err: unknown) => {
      process.stderr.write(`${startFailureLine(err)}\n`)
      process.exit(1)
    },
  )
}

/** A failure the user fixes with a setting: its message is the whole story, no stack. */
export function isUserFixable(err: unknown): err is Error {
  return [ConfigError, StartFailure, WakeupMismatch, PortInUse].some((kind) => err instanceof kind)
}

/** What a failed start prints: one line for what the user fixes, the stack for the rest. */
function startFailureLine(err: unknown): string {
  if (isUserFixable(err)) return err.message
  return `failed to start: ${(err as Error)?.stack ?? String(err)}`
}
