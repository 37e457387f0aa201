/** Logs for people in a terminal, JSON lines for everything else. */
import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { freePort } from '../../src/dev/free-port'
import { spawnEntrypoint } from '../helpers/process'
import { spawnCommand } from '../helpers/spawn-command'

const hasScript = (() => {
  try {
    execFileSync('script', ['-qec', 'true', '/dev/null'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()

// The API logs `api listening` without touching the database, so no server is needed.
const env = async () => ({
  DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none',
  PORT: String(await freePort()),
  LOG_LEVEL: 'info',
})

describe('logs', () => {
  it('are JSON lines when stdout is not a terminal', async () => {
    const api = spawnEntrypoint('src/main/api.ts', await env())
    try {
      await api.waitForOutput(/api listening/)
      expect(api.output()).toMatch(/^\{"level":30,.*"msg":"api listening"\}$/m)
    } finally {
      api.child.kill('SIGKILL')
    }
  })

  // util-linux `script` runs the command on a pseudo-terminal.
  it.skipIf(!hasScript)('are human-readable in a terminal (pino-pretty)', async () => {
    const e = await env()
    const command = `env LOG_LEVEL=info DATABASE_URL=${e.DATABASE_URL} PORT=${e.PORT} ${process.execPath} --import tsx src/main/api.ts`
    const api = spawnCommand(['script', '-qec', command, '/dev/null'], { env: {}, detached: true })
    try {
      await api.waitForOutput(/api listening/)
      expect(api.output()).toMatch(/INFO.* \(api\/\d+\): .*api listening/)
      expect(api.output()).not.toMatch(/"level"/)
    } finally {
      process.kill(-(api.child.pid ?? 0), 'SIGKILL')
    }
  })
})
