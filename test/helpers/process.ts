import { type ChildProcess, spawn } from 'node:child_process'

export type Spawned = {
  child: ChildProcess
  output(): string
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>
}

/** Runs a TypeScript entrypoint with tsx in a child process, with exactly the given env. */
export function spawnEntrypoint(file: string, env: Record<string, string>): Spawned {
  const child = spawn(process.execPath, ['--import', 'tsx', file], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const listeners = new Set<() => void>()
  const append = (chunk: Buffer) => {
    output += chunk.toString()
    for (const l of listeners) l()
  }
  child.stdout?.on('data', append)
  child.stderr?.on('data', append)
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  )
  return {
    child,
    output: () => output,
    exited,
    waitForOutput: (pattern, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(check)
          reject(new Error(`no ${pattern} in output after ${timeoutMs} ms:\n${output}`))
        }, timeoutMs)
        const check = () => {
          if (!pattern.test(output)) return
          clearTimeout(timer)
          listeners.delete(check)
          resolve()
        }
        listeners.add(check)
        check()
      }),
  }
}

/**
 * `npm run start:relay` as its own process, against a test database and a test broker
 * (librdkafka's mock cannot run the idempotent producer, so it is off).
 */
export function spawnRelayProcess(
  target: { databaseUrl: string; brokers: string; topic: string },
  env: Record<string, string> = {},
): Spawned {
  return spawnEntrypoint('src/main/relay.ts', {
    DATABASE_URL: target.databaseUrl,
    KAFKA_BROKERS: target.brokers,
    KAFKA_TOPIC: target.topic,
    KAFKA_IDEMPOTENT: 'false',
    RELAY_METRICS_PORT: '0', // several relays at once: any free port
    ...env,
  })
}
