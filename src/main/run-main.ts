import { ConfigError } from '../config'

export type Stoppable = { stop(): Promise<void> }

/**
 * Runs an entrypoint: prints configuration problems (all of them) and exits 1; on
 * SIGTERM/SIGINT stops what `start` returned and exits 0, or exits 1 if stopping hangs.
 */
export function runMain(start: () => Promise<Stoppable>, hardTimeoutMs = 30_000): void {
  start().then(
    (service) => {
      let stopping = false
      const shutdown = (signal: string) => {
        if (stopping) return
        stopping = true
        process.stderr.write(`${signal} received, shutting down\n`)
        setTimeout(() => process.exit(1), hardTimeoutMs).unref()
        service.stop().then(
          () => process.exit(0),
          (err: unknown) => {
            process.stderr.write(`shutdown failed: ${String(err)}\n`)
            process.exit(1)
          },
        )
      }
      process.on('SIGTERM', () => shutdown('SIGTERM'))
      process.on('SIGINT', () => shutdown('SIGINT'))
    },
    (err: unknown) => {
      process.stderr.write(
        err instanceof ConfigError
          ? `${err.message}\n`
          : `failed to start: ${(err as Error)?.stack ?? String(err)}\n`,
      )
      process.exit(1)
    },
  )
}
