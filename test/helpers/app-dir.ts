import { cp, mkdtemp, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Metafile } from 'esbuild'
import { buildDist } from '../../scripts/build'

const root = resolve(import.meta.dirname, '../..')

export type AppDir = { dir: string; metafile: Metafile; remove(): Promise<void> }

/**
 * The image's /app, outside Docker: `npm run build` into dist/, the migrations, package.json,
 * and the repository's node_modules linked in. Commands run with this as their working
 * directory, as in the image.
 */
export async function prepareAppDir(): Promise<AppDir> {
  const dir = await mkdtemp(join(tmpdir(), 'outbox-app-'))
  const metafile = await buildDist(join(dir, 'dist'))
  await cp(join(root, 'drizzle'), join(dir, 'drizzle'), { recursive: true })
  await cp(join(root, 'package.json'), join(dir, 'package.json'))
  await symlink(join(root, 'node_modules'), join(dir, 'node_modules'))
  return { dir, metafile, remove: () => rm(dir, { recursive: true, force: true }) }
}
