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
  it('refuses to start without DATABASE_URL when no `npm start` recorded a database', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'consume-dev-'))
    try {
      const child = spawnEntrypoint('src/main/consume.ts', {
        KAFKA_BROKERS: '127.0.0.1:9',
        DEV_DATA_DIR: empty,
      })
      expect(await child.exited).toBe(1)
      expect(child.output()).toMatch(/DATABASE_URL is not set and no `npm start` is running here/)
    } finally {
      await rm(empty, { recursive: true, force: true })
    }
  })

  it('refuses to start without KAFKA_BROKERS when no `npm start` recorded a broker', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'consume-dev-'))
    try {
      const child = spawnEntrypoint('src/main/consume.ts', {
        DATABASE_URL: 'postgres://nobody@127.0.0.1:9/none',
        DEV_DATA_DIR: empty,
      })
      expect(await child.exited).toBe(1)
      expect(child.output()).toMatch(/KAFKA_BROKERS is not set and no `npm start` is running here/)
    } finally {
      await rm(empty, { recursive: true, force: true })
    }
  })
})
