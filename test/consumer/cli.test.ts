/** `npm run consume -- <command>`: parsing, and one command run as a user runs it. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConsumeUsageError, formatParked, parseConsumeCommand } from '../../src/consumer/cli'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { spawnCommand } from '../helpers/spawn-command'

const consume = (args: string[], env: Record<string, string>) =>
  spawnCommand([process.execPath, '--import', 'tsx', 'src/main/consume.ts', ...args], { env })

describe('parseConsumeCommand', () => {
  it.each([
    [[], { name: 'run' }],
    [['parked'], { name: 'parked', json: false }],
    [['parked', '--json'], { name: 'parked', json: true }],
    [['retry', '12'], { name: 'retry', id: 12 }],
    [['skip', '3'], { name: 'skip', id: 3 }],
    [['help'], { name: 'help' }],
  ])('%j', (argv, command) => {
    expect(parseConsumeCommand(argv)).toEqual(command)
  })

  it.each([
    [['retry']],
    [['skip', 'x']],
    [['retry', '1', '2']],
    [['purge']],
    [['parked', '--all']],
  ])('%j is a usage error', (argv) => {
    expect(() => parseConsumeCommand(argv)).toThrow(ConsumeUsageError)
  })

  it('prints what a message carries escaped', () => {
    const text = formatParked([
      {
        id: 1,
        topic: 'orders.events',
        partition: 0,
        offset: '5',
        eventId: null,
        eventType: 'Evil\u001b[2J',
        orderId: null,
        version: null,
        key: null,
        headers: {},
        value: null,
        reason: 'bad\u0007',
        attempts: 5,
        parkedAt: new Date(0),
        releasedAt: null,
        resolution: null,
      },
    ])
    expect(text).toContain('Evil\\x1b[2J')
    expect(text).toContain('bad\\x07')
    expect(text).not.toContain('\u001b')
  })
})

describe('npm run consume -- parked', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
  })
  afterAll(() => db.close())

  it('lists parked messages; a usage error exits 2', async () => {
    await db.sql`
      insert into inventory.parked_messages (topic, partition, "offset", headers, reason, attempts)
      values ('orders.events', 2, '41', '{}', '22P05: unsupported Unicode escape sequence', 5)`
    const [parked, usage] = [
      consume(['parked'], { DATABASE_URL: db.url }),
      consume(['retry'], { DATABASE_URL: db.url }),
    ]
    expect(await parked.exited).toBe(0)
    expect(parked.output()).toMatch(/1 parked message\(s\)\n\d+ .* orders\.events\/2@41 /)
    expect(parked.output()).toContain('22P05: unsupported Unicode escape sequence')
    expect(await usage.exited).toBe(2)
    expect(usage.output()).toMatch(/retry takes one parked message id[\s\S]*Usage: npm run consume/)
  })
})
