/**
 * Where a running `npm start` records the services it started itself (the embedded database's
 * URL, the in-process broker's address and topic), so `npm run tail`, `npm run consume` and
 * `npm run outbox` beside it need no settings. Removed when it stops.
 *
 * Production entrypoints import this module to find such a record, so it must stay free of
 * anything that starts or loads a development service (librdkafka, the Postgres binaries):
 * test/main/production-entrypoints.test.ts holds it (and process-alive.ts) to that.
 */
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { z } from 'zod'
import { isAlive } from './process-alive'

/**
 * Where `npm start` keeps its data: DEV_DATA_DIR, else `.data` in the working directory. The
 * entrypoints pass their environment, as they do to loadConfig; nothing reads it at import.
 */
export const devDataDirOf = (env: Readonly<Record<string, string | undefined>>) =>
  resolve(env.DEV_DATA_DIR ?? '.data')

/** The record's file in a data directory. */
export const devServicesFile = (dataDir: string) => resolve(dataDir, 'dev-services.json')

const recordSchema = z.object({
  /** The `npm start` that wrote the record: one whose writer is gone (killed) is stale. */
  pid: z.number().int().optional(),
  databaseUrl: z.string().optional(),
  brokers: z.array(z.string()).optional(),
  topic: z.string(),
})
export type DevServicesRecord = z.infer<typeof recordSchema>

/**
 * What a running `npm start` recorded in `dataDir`, if anything (a killed one's record is
 * ignored).
 */
export async function readDevServices(dataDir: string): Promise<DevServicesRecord | undefined> {
  const text = await readFile(devServicesFile(dataDir), 'utf8').catch(() => undefined)
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
  return pid === undefined || isAlive(pid) ? record.data : undefined
}
