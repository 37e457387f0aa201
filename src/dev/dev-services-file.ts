/**
 * Where a running `npm start` records the services it started itself (the embedded database's
 * URL, the in-process broker's address and topic), so `npm run tail`, `npm run consume` and
 * `npm run outbox` beside it need no settings. Removed when it stops.
 *
 * Production entrypoints import this module to find such a record, so it must stay free of
 * anything that starts or loads a development service (librdkafka, the Postgres binaries):
 * test/main/production-imports.test.ts holds it to that.
 */
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { z } from 'zod'

export const devDataDir = resolve(process.env.DEV_DATA_DIR ?? '.data')
export const devServicesFile = resolve(devDataDir, 'dev-services.json')

const recordSchema = z.object({
  /** The `npm start` that wrote the record: one whose writer is gone (killed) is stale. */
  pid: z.number().int().optional(),
  databaseUrl: z.string().optional(),
  brokers: z.array(z.string()).optional(),
  topic: z.string(),
})
export type DevServicesRecord = z.infer<typeof recordSchema>

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** What a running `npm start` recorded here, if anything (a killed one's record is ignored). */
export async function readDevServices(): Promise<DevServicesRecord | undefined> {
  const text = await readFile(devServicesFile, 'utf8').catch(() => undefined)
  if (text === undefined) return undefined
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return undefined
  }
  const record = recordSchema.safeParse(json)
  if (!record.success) return undefined
  const { pid } = record.data
  return pid === undefined || isRunning(pid) ? record.data : undefined
}
