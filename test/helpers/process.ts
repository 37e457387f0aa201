import type { ChildProcess } from 'node:child_process'
import { spawnCommand } from './spawn-command'
export type Spawned = {
  child: ChildProcess
  output(): string
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>
}

/**
 * Node's flags for the services, as package.json, compose.yaml and the Dockerfile start them
 * (test/main/node-flags.test.ts holds them to it). `--initial-old-space-size`: a heap whose old
 * generation's size is not configured had V8 start a full mark-compact every 0.3-0.5 s in some
 * runs, its old generation flat at 18 MB (docs/benchmarks.md).
 */
export const SERVICE_NODE_FLAGS = ['--initial-old-space-size=64']

/**
 * Runs a TypeScript entrypoint with tsx in a child process, with exactly the given env, and
 * Node started with SERVICE_NODE_FLAGS (`NODE_FLAGS` in `env`, space-separated, replaces them:
 * empty for none; the benchmark compares so).
 */
export function spawnEntrypoint(file: string, env: Record<string, string>): Spawned {
  const { NODE_FLAGS, ...rest } = env
  const flags =
    NODE_FLAGS === undefined ? SERVICE_NODE_FLAGS : NODE_FLAGS.split(' ').filter((f) => f !== '')
  return spawnCommand([process.execPath, ...flags, '--import', 'tsx', file], {
    // Several consumers at once (and other test files'): any free port for their metrics.
    env: { LOG_LEVEL: 'info', METRICS_PORT: '0', ...rest },
  })
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
    KAFKA_TOPIC_TEMPLATE: target.topic,
    KAFKA_IDEMPOTENT: 'false',
    METRICS_PORT: '0', // several relays at once: any free port
    ...env,
  })
}
