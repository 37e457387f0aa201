/** Databases at an earlier migration, for testing and measuring the ones after it. */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { migrationsFolder } from '../../src/db/migrate'

/**
 * A copy of drizzle/ whose journal stops at migration `last` (drizzle's migrator applies what
 * the journal lists). `remove()` deletes it.
 */
export async function migrationsUpTo(
  last: number,
): Promise<{ folder: string; remove(): Promise<void> }> {
  const folder = await mkdtemp(join(tmpdir(), 'outbox-migrations-'))
  await cp(migrationsFolder, folder, { recursive: true })
  const journalFile = join(folder, 'meta', '_journal.json')
  const journal = JSON.parse(await readFile(journalFile, 'utf8')) as { entries: { idx: number }[] }
  journal.entries = journal.entries.filter((e) => e.idx <= last)
  await writeFile(journalFile, JSON.stringify(journal))
  return { folder, remove: () => rm(folder, { recursive: true, force: true }) }
}
