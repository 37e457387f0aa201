/**
 * `npm start` as a user runs it, in a data directory of its own: whatever happens (a port in use,
 * librdkafka missing, a kill -9, Ctrl-C) it leaves no embedded Postgres behind, and says what
 * went wrong in one line.
 */
import { execFileSync } from 'node:child_process'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { freePort } from '../../src/dev/free-port'
import { hideLibrdkafka } from '../helpers/hide-librdkafka'
import { type Spawned, spawnEntrypoint } from '../helpers/process'
import { spawnCommand } from '../helpers/spawn-command'

let dataDir: string
let port: number
const started: Spawned[] = []
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'outbox-npm-start-'))
  await chmod(dataDir, 0o755) // as root, postgres runs as the postgres user and must get in
  port = await freePort()
})
afterEach(async () => {
  for (const p of started.splice(0)) p.child.kill('SIGKILL')
  for (const pid of postgresOf(dataDir)) process.kill(pid, 'SIGKILL')
  await rm(dataDir, { recursive: true, force: true })
})

const env = () => ({ DEV_DATA_DIR: dataDir, PORT: String(port), METRICS_PORT: '0' })

/** `npm start` in a process group of its own, as a terminal runs it. */
function npmStart(): Spawned {
  const p = spawnCommand(['npm', 'start'], { env: env(), detached: true })
  started.push(p)
  return p
}

/** Processes whose command line names this data directory: the embedded postmaster. */
function postgresOf(dir: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', dir], { encoding: 'utf8' }).trim().split('\n').map(Number)
  } catch {
    return [] // pgrep exits 1 when nothing matches
  }
}

/** What the process printed besides npm's own `> outbox-relay start` header. */
const ownLines = (p: Spawned) =>
  p
    .output()
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('> '))

const placeOrder = () =>
  fetch(`http://127.0.0.1:${port}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ item: 'book', quantity: 2 }),
  })

describe('npm start', () => {
  it('with PORT in use exits 1 with one line naming PORT, and leaves no Postgres running', async () => {
    const taken: Server = createServer()
    await new Promise<void>((r) => taken.listen(port, r))
    try {
      const app = npmStart()
      expect(await app.exited).toBe(1)
      expect(ownLines(app)).toEqual([
        expect.stringMatching(new RegExp(`^PORT ${port} is in use; set PORT=`)),
      ])
      expect(postgresOf(dataDir)).toEqual([])
    } finally {
      taken.close()
    }
  }, 60_000)

  it('after a kill -9 serves orders again, earlier ones kept; Ctrl-C then exits 0 in 5 s, silently', async () => {
    const first = spawnEntrypoint('src/main/all.ts', env())
    started.push(first)
    await first.waitForOutput(/curl -i -X POST/, 30_000)
    const placed = await placeOrder()
    expect(placed.status).toBe(201)
    const { id } = (await placed.json()) as { id: string }
    first.child.kill('SIGKILL')
    await first.exited
    expect(postgresOf(dataDir)).not.toEqual([]) // its Postgres outlived it

    const startedAt = Date.now()
    const second = npmStart()
    await second.waitForOutput(/curl -i -X POST/, 30_000)
    expect((await fetch(`http://127.0.0.1:${port}/orders/${id}`)).status).toBe(200)
    expect((await placeOrder()).status).toBe(201)
    expect(Date.now() - startedAt).toBeLessThan(30_000)

    const stopAt = Date.now()
    process.kill(-(second.child.pid ?? 0), 'SIGINT') // the whole group, as Ctrl-C does
    expect(await second.exited).toBe(0)
    expect(Date.now() - stopAt).toBeLessThan(5_000)
    expect(second.output()).not.toMatch(/"level":(40|50|60)/)
    expect(postgresOf(dataDir)).toEqual([])
  }, 90_000)

  it.skipIf(!hideLibrdkafka)(
    'without librdkafka exits 1 with one line on installing it, starting nothing',
    async () => {
      const app = spawnCommand(
        [...(hideLibrdkafka ?? []), process.execPath, '--import', 'tsx', 'src/main/all.ts'],
        { env: env() },
      )
      started.push(app)
      expect(await app.exited).toBe(1)
      expect(ownLines(app)).toEqual([
        expect.stringMatching(/^librdkafka not found .*apt-get install librdkafka1.*KAFKA_BROKERS/),
      ])
      expect(postgresOf(dataDir)).toEqual([])
    },
    30_000,
  )
})
