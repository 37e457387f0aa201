/**
 * The import graph is the architecture: these edges must run one way. Each rule names folders
 * of src/ that must not import from others; a feature's own routes files (routes.ts and
 * routes-*.ts, its HTTP edge) may import from http/.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const SRC = resolve('src')

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return files(path)
    return path.endsWith('.ts') ? [path] : []
  })
}

/** Every relative import of a file, as a path under src/ (e.g. 'relay/session'). */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const found = [...text.matchAll(/^\s*(?:import|export)[^'"]*from\s+['"](\.[^'"]+)['"]/gm)]
  return found.map((m) => relative(SRC, resolve(dirname(file), m[1] ?? '')))
}

const edges = files(SRC).flatMap((file) =>
  imports(file).map((to) => ({ from: relative(SRC, file), to })),
)

const top = (path: string) => path.split('/')[0] ?? ''

const RULES: { from: string[]; notInto: string[]; except?: (from: string) => boolean }[] = [
  { from: ['db', 'outbox', 'observability'], notInto: ['relay', 'http', 'orders', 'consumer'] },
  {
    from: ['orders', 'outbox'],
    notInto: ['http'],
    except: (from) => /\/routes(-[\w-]+)?\.ts$/.test(from),
  },
  // Nothing imports an entrypoint.
  { from: ['*'], notInto: ['main'] },
]

describe('module edges', () => {
  it('finds the imports it checks', () => {
    expect(edges.some((e) => e.from === 'relay/relay.ts' && e.to === 'relay/drain')).toBe(true)
  })

  for (const rule of RULES) {
    it(`${rule.from.join(', ')} import nothing from ${rule.notInto.join(', ')}`, () => {
      const wrong = edges.filter(
        (e) =>
          (rule.from.includes('*') ? top(e.from) !== 'main' : rule.from.includes(top(e.from))) &&
          rule.notInto.includes(top(e.to)) &&
          !rule.except?.(e.from),
      )
      expect(wrong.map((e) => `${e.from} -> ${e.to}`)).toEqual([])
    })
  }
})
