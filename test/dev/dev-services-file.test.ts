/** The record of a running `npm start`, as tail, consume and outbox read it. */
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dev-services-file-'))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

/** readDevServices in a process of its own: devDataDir is read from DEV_DATA_DIR at import. */
const read = () => {
  const run = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      "import('./src/dev/dev-services-file.ts').then(async (m) => console.log(JSON.stringify((await m.readDevServices()) ?? null)))",
    ],
    { env: { ...process.env, DEV_DATA_DIR: dir }, encoding: 'utf8' },
  )
  return JSON.parse(run.stdout) as unknown
}
const record = (value: unknown) => writeFile(join(dir, 'dev-services.json'), JSON.stringify(value))

describe('readDevServices', () => {
  it("returns a running writer's record and ignores a killed one's, or a malformed one", async () => {
    const live = { pid: process.pid, databaseUrl: 'postgres://x@h/db', topic: 't' }
    await record(live)
    expect(read()).toEqual(live)
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], {
      encoding: 'utf8',
    })
    await record({ ...live, pid: Number(dead.stdout) })
    expect(read()).toBeNull()
    await record({ brokers: 'not a list', topic: 't' })
    expect(read()).toBeNull()
  })
})
