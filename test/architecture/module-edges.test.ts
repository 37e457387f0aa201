/**
 * The import graph is the architecture: these edges must run one way (README, Layout). Each
 * rule names folders of src/ that must not import from other folders (or one module); a
 * feature's own routes files (routes.ts and routes-*.ts, its HTTP edge) may import from http/.
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

/** `target` is a folder (`orders`) or one module (`events/contract`) under src/. */
const into = (to: string, target: string) => to === target || to.startsWith(`${target}/`)

const FEATURES = ['orders', 'outbox', 'consumer', 'relay', 'replay', 'ops']

const RULES: {
  why: string
  from: string[]
  notInto: string[]
  except?: (from: string) => boolean
}[] = [
  {
    why: 'the storage and its helpers know no feature above them',
    from: ['db', 'outbox', 'observability'],
    notInto: ['relay', 'http', 'orders', 'consumer'],
  },
  {
    why: 'a feature reaches HTTP only from its own routes files',
    from: ['orders', 'outbox'],
    notInto: ['http'],
    except: (from) => /\/routes(-[\w-]+)?\.ts$/.test(from),
  },
  {
    // events/contract is the orders feature's event contract: the relay publishes any
    // aggregate's events and reads what it needs from the row.
    why: 'the relay publishes any aggregate, knowing nothing of orders',
    from: ['relay'],
    notInto: ['orders', 'events/contract'],
  },
  {
    why: 'the HTTP edge is shared by the features: it imports none of them',
    from: ['http'],
    notInto: FEATURES,
  },
  {
    why: 'the database layer takes its settings as arguments and throws its own errors',
    from: ['db'],
    notInto: ['config'],
  },
  { why: 'nothing imports an entrypoint', from: ['*'], notInto: ['main'] },
]

describe('module edges', () => {
  it('finds the imports it checks', () => {
    expect(edges.some((e) => e.from === 'relay/relay.ts' && e.to === 'relay/drain')).toBe(true)
    expect(edges.some((e) => e.from === 'app.ts' && e.to === 'orders/routes')).toBe(true)
  })

  for (const rule of RULES) {
    it(`${rule.from.join(', ')} import nothing from ${rule.notInto.join(', ')}: ${rule.why}`, () => {
      const wrong = edges.filter(
        (e) =>
          (rule.from.includes('*') ? top(e.from) !== 'main' : rule.from.includes(top(e.from))) &&
          rule.notInto.some((target) => into(e.to, target)) &&
          !rule.except?.(e.from),
      )
      expect(wrong.map((e) => `${e.from} -> ${e.to}`)).toEqual([])
    })
  }
})
