/**
 * compose.yaml's own services (those built from this repository's Dockerfile: migrate, api,
 * relay, consumer) started outside Docker: each one's exact `command` and `environment`, with
 * the stack's hosts rewritten to a given Postgres and broker (which play `postgres`, `redpanda`
 * and `topic`), in a directory laid out as the image's /app. Healthy means what compose waits
 * for: migrate exits 0; a service with a healthcheck passes it (run as written, its port
 * rewritten); the consumer, which has none, joins its group and keeps running.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import postgres from 'postgres'
import { parse } from 'yaml'
import { z } from 'zod'
import { freePort } from '../../src/dev/free-port'
import type { Spawned } from './process'
import { spawnCommand } from './spawn-command'
import { waitFor } from './wait'

const serviceSchema = z.object({
  build: z.unknown().optional(),
  command: z.array(z.string()).optional(),
  environment: z.record(z.string(), z.string()).optional(),
  depends_on: z.record(z.string(), z.object({ condition: z.string() })).optional(),
  healthcheck: z.object({ test: z.array(z.string()) }).optional(),
})
export type ComposeService = z.infer<typeof serviceSchema> & { name: string }

const root = resolve(import.meta.dirname, '../..')

/** The services built from the Dockerfile, in the order compose starts them. */
export function readOwnServices(file = resolve(root, 'compose.yaml')): ComposeService[] {
  const doc = z
    .object({ services: z.record(z.string(), serviceSchema) })
    .parse(parse(readFileSync(file, 'utf8')))
  const own = Object.entries(doc.services)
    .filter(([, s]) => s.build !== undefined)
    .map(([name, s]) => ({ name, ...s }))
  // One-shot services that others wait for (service_completed_successfully) come first.
  const oneShot = (s: ComposeService) =>
    own.some((o) => o.depends_on?.[s.name]?.condition === 'service_completed_successfully')
  return [...own.filter(oneShot), ...own.filter((s) => !oneShot(s))]
}

/** `${NAME:-default}` as compose interpolates it with NAME unset. */
const interpolate = (value: string) => value.replace(/\$\{\w+:-([^}]*)\}/g, '$1')

export type Targets = {
  /** A superuser URL of the Postgres server that plays `postgres`. */
  postgresUrl: string
  /** host:port list of the broker that plays `redpanda`. */
  brokers: string
}

export type RunOptions = {
  appDir: string
  /** The node binary that plays the image's `node`. */
  node: string
  /** The image's ENV. */
  imageEnv?: Record<string, string>
  /** Run as this user (the image's USER), when the test runs as root. */
  ids?: { uid: number; gid: number }
}

export type RunningStack = {
  databaseUrl: string
  apiPort: number
  processes: Map<string, Spawned>
  stop(): Promise<void>
}

/**
 * The compose Postgres's first start (POSTGRES_USER, POSTGRES_DB): a superuser `outbox` and a
 * database of its own; returns how a service's URL maps to it.
 */
async function prepareDatabase(postgresUrl: string): Promise<{ host: string; db: string }> {
  const admin = postgres(postgresUrl, { max: 1, onnotice: () => {} })
  try {
    await admin.unsafe(`DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'outbox') THEN
        CREATE ROLE outbox LOGIN SUPERUSER PASSWORD 'outbox';
      END IF; END $$`)
    const db = `compose_${randomBytes(6).toString('hex')}`
    await admin.unsafe(`CREATE DATABASE ${db} OWNER outbox`)
    return { host: new URL(postgresUrl).host, db }
  } finally {
    await admin.end()
  }
}

export async function startOwnServices(targets: Targets, run: RunOptions): Promise<RunningStack> {
  const { host, db } = await prepareDatabase(targets.postgresUrl)
  const ports = { api: await freePort(), relay: await freePort() }
  const rewrite = (value: string) =>
    interpolate(value)
      .replace(/@postgres:5432\/outbox\b/, `@${host}/${db}`)
      .replace(/\bredpanda:9092\b/, targets.brokers)
      .replace(/localhost:3000\b/, `localhost:${ports.api}`)
      .replace(/localhost:9400\b/, `localhost:${ports.relay}`)
  const node = (argv: string[]) => argv.map((a, i) => (i === 0 && a === 'node' ? run.node : a))
  const processes = new Map<string, Spawned>()
  const stop = async () => {
    for (const p of processes.values()) {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM')
    }
    await Promise.all([...processes.values()].map((p) => p.exited))
  }
  try {
    for (const service of readOwnServices()) {
      const env: Record<string, string> = { ...run.imageEnv }
      for (const [k, v] of Object.entries(service.environment ?? {})) env[k] = rewrite(v)
      if (env.PORT === '3000') env.PORT = String(ports.api)
      if (env.METRICS_PORT === '9400') env.METRICS_PORT = String(ports.relay)
      // The librdkafka mock cannot run the idempotent producer (Redpanda can).
      if (env.KAFKA_BROKERS) env.KAFKA_IDEMPOTENT = 'false'
      const command = node(service.command ?? [])
      const p = spawnCommand(command, { env, cwd: run.appDir, ...run.ids })
      processes.set(service.name, p)
      await healthy(service, p, (argv) => node(argv.map(rewrite)), run)
    }
  } catch (err) {
    await stop()
    throw err
  }
  return {
    databaseUrl: `${targets.postgresUrl.replace(/\/[^/]*$/, '')}/${db}`,
    apiPort: ports.api,
    processes,
    stop,
  }
}

async function healthy(
  service: ComposeService,
  p: Spawned,
  argv: (a: string[]) => string[],
  run: RunOptions,
): Promise<void> {
  const completes = readOwnServices().some(
    (o) => o.depends_on?.[service.name]?.condition === 'service_completed_successfully',
  )
  if (completes) {
    const code = await p.exited
    if (code !== 0) throw new Error(`${service.name} exited ${code}:\n${p.output()}`)
    return
  }
  const check = service.healthcheck?.test
  if (check?.[0] === 'CMD') {
    await waitFor(
      `${service.name}'s healthcheck`,
      async () => {
        if (p.child.exitCode !== null) throw new Error(`${service.name} exited:\n${p.output()}`)
        const probe = spawnCommand(argv(check.slice(1)), { env: {}, cwd: run.appDir, ...run.ids })
        return (await probe.exited) === 0
      },
      30_000,
      200,
    )
    return
  }
  if (check) throw new Error(`${service.name}: healthcheck ${check[0]} is not run here`)
  // No healthcheck: up once it says it consumes, and still running a moment later.
  await p.waitForOutput(/consuming \S+ as group/, 30_000)
}
