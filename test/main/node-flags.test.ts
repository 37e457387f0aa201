/**
 * The services start with the same Node flags wherever they are started: npm scripts, the
 * compose stack, the image, and the tests and benchmark (spawnEntrypoint). A flag left out of one
 * of them would make that one measure or run a different service.
 */
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SERVICE_NODE_FLAGS, spawnEntrypoint } from '../helpers/process'

const read = (file: string) => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8')
/** A command as an exec-form list spells it: "node", "--import", ... */
const quoted = (args: string[]) => args.map((a) => JSON.stringify(a)).join(', ')

describe("the services' Node flags", () => {
  // `exec`: the script's shell gives way to node, so a Ctrl-C reaches no shell that would die of
  // it and make npm exit 130 after a clean stop. `--import tsx`, not the tsx CLI: the CLI relays a
  // signal through a parent process that SIGKILLs the child when it does not confirm within 30 ms
  // (a loaded machine), which left the embedded Postgres running (test/main/npm-start.test.ts).
  it('npm start passes them to node', () => {
    const scripts = JSON.parse(read('package.json')).scripts as Record<string, string>
    expect(scripts.start).toBe(
      ['exec', 'node', ...SERVICE_NODE_FLAGS, '--import', 'tsx', 'src/main/all.ts'].join(' '),
    )
  })

  it.each([
    ['start:api', 'dist/main/api.js'],
    ['start:relay', 'dist/main/relay.js'],
  ])('npm run %s passes them to node', (script, file) => {
    const scripts = JSON.parse(read('package.json')).scripts as Record<string, string>
    expect(scripts[script]).toBe(
      ['node', '--enable-source-maps', ...SERVICE_NODE_FLAGS, file].join(' '),
    )
  })

  it.each(['api', 'relay'])('the compose service %s starts node with them', (service) => {
    const command = quoted(['node', ...SERVICE_NODE_FLAGS, `dist/main/${service}.js`])
    expect(read('compose.yaml')).toContain(`command: [ ${command} ]`)
  })

  it("the image's default command starts node with them", () => {
    const command = quoted(['node', ...SERVICE_NODE_FLAGS, 'dist/main/api.js'])
    expect(read('Dockerfile')).toContain(`CMD [${command}]`)
  })
})

describe('spawnEntrypoint', () => {
  let dir: string
  let file: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'node-flags-'))
    file = join(dir, 'argv.ts')
    await writeFile(file, 'console.log(JSON.stringify(process.execArgv))\n')
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  const execArgv = async (env: Record<string, string>) => {
    const child = spawnEntrypoint(file, env)
    expect(await child.exited).toBe(0)
    return JSON.parse(child.output().trim().split('\n').at(-1) ?? '[]') as string[]
  }

  it('starts node with the flags, and with none when NODE_FLAGS is empty', async () => {
    expect(await execArgv({})).toEqual(expect.arrayContaining(SERVICE_NODE_FLAGS))
    const without = await execArgv({ NODE_FLAGS: '' })
    for (const flag of SERVICE_NODE_FLAGS) expect(without).not.toContain(flag)
    expect(await execArgv({ NODE_FLAGS: '--max-semi-space-size=4' })).toContain(
      '--max-semi-space-size=4',
    )
  })
})
