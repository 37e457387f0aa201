/**
 * `npm run build`: the production entrypoints as plain ES modules in dist/main, with source maps,
 * for `node dist/main/<name>.js` (no tsx at run time).
 *
 * esbuild bundles each entrypoint with the project's own code and leaves every package external
 * (node_modules is installed beside dist). tsc cannot emit this tree: src imports are
 * extensionless, which Node's ES module loader does not resolve.
 *
 * Files read at run time are found relative to the bundle, since `import.meta.url` is now the
 * entrypoint's: src/db/migrate.ts's `../../drizzle` from dist/main is the drizzle folder beside
 * dist, as from src/db; src/events/schema-files.ts's `./schemas/` is copied to dist/main/schemas.
 */
import { cp, rm } from 'node:fs/promises'
import { resolve } from 'node:path'
import { build, type Metafile } from 'esbuild'

/** What runs in production. `npm start` (all.ts) and `npm run schemas` are development tools. */
export const ENTRYPOINTS = ['api', 'relay', 'migrate', 'consume', 'outbox', 'tail'] as const

const root = resolve(import.meta.dirname, '..')

/** Builds into `outDir`; returns esbuild's metafile (every module each bundle holds). */
export async function buildDist(outDir = resolve(root, 'dist')): Promise<Metafile> {
  await rm(outDir, { recursive: true, force: true })
  const { metafile } = await build({
    absWorkingDir: root,
    entryPoints: ENTRYPOINTS.map((name) => `src/main/${name}.ts`),
    outdir: resolve(outDir, 'main'),
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    metafile: true,
    logLevel: 'warning',
  })
  await cp(resolve(root, 'src/events/schemas'), resolve(outDir, 'main/schemas'), {
    recursive: true,
  })
  return metafile
}

if (import.meta.filename === resolve(process.argv[1] ?? '')) await buildDist(process.argv[2])
