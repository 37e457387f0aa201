/**
 * `npm run consume` refuses to start without what it needs. (Starting from what a running
 * `npm start` recorded is exercised by crash.test.ts, whose restarted consumer does just that.)
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { spawnEntrypoint } from '../helpers/process'

describe('npm run consume', () => {
  // An empty DEV_DATA_DIR: no `npm start` recorded a database or a broker.
  it.each([
    ['DATABASE_URL', { KAFKA_BROKERS: '127.0.0.1:9' }],
    ['KAFKA_BROKERS', { DATABASE_URL: 'postgres://nobody@127.0.0.1:9/none' }],
  ])('refuses to start without %s when no `npm start` recorded one', async (name, env) => {
    const empty = await mkdtemp(join(tmpdir(), 'consume-dev-'))
    try {
      const child = spawnEntrypoint('src/main/consume.ts', { ...env, DEV_DATA_DIR: empty })
      expect(await child.exited).toBe(1)
      expect(child.output()).toContain(`${name} is not set and no \`npm start\` is running here`)
    } finally {
      await rm(empty, { recursive: true, force: true })
    }
  })
})
