/** The record of a running `npm start`, as tail, consume and outbox read it. */
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { devDataDirOf, readDevServices } from '../../src/dev/dev-services-file'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dev-services-file-'))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

const read = async () => (await readDevServices(dir)) ?? null
const record = (value: unknown) => writeFile(join(dir, 'dev-services.json'), JSON.stringify(value))

describe('readDevServices', () => {
  it("returns a running writer's record and ignores a killed one's, or a malformed one", async () => {
    const live = { pid: process.pid, databaseUrl: 'postgres://x@h/db', topic: 't' }
    await record(live)
    expect(await read()).toEqual(live)
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], {
      encoding: 'utf8',
    })
    await record({ ...live, pid: Number(dead.stdout) })
    expect(await read()).toBeNull()
    await record({ brokers: 'not a list', topic: 't' })
    expect(await read()).toBeNull()
  })
})

describe('devDataDirOf', () => {
  it('is DEV_DATA_DIR from the environment it is given, else .data here', () => {
    expect(devDataDirOf({ DEV_DATA_DIR: dir })).toBe(dir)
    expect(devDataDirOf({})).toBe(join(process.cwd(), '.data'))
  })
})
