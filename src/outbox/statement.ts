/**
 * A statement whose text is fixed once, when its module loads: its named parameters (`@name`)
 * become `$1`, `$2`, ... there, and each run sends only the values. postgres.js builds a tagged
 * query's text anew on every run, one object per fragment; the relay claims up to a thousand
 * times a second, and building its claim cost more of the relay's CPU than Postgres spent
 * running it (docs/benchmarks.md, "The claim's text, built once").
 */
import type { Q } from './client'

/** Its parameters' names `K`, and the rows `R` it returns. */
export type Statement<K extends string, R extends object> = {
  readonly text: string
  /** The parameters in `$n` order. */
  readonly names: readonly K[]
  readonly rows?: R
}

const PARAMETER = /@([a-z_]+)/g

/** `names` must be exactly those the text uses: a mismatch throws when the module loads. */
export function statement<K extends string, R extends object>(
  names: readonly K[],
  text: string,
): Statement<K, R> {
  const used = new Set<string>()
  const numbered = text.replace(PARAMETER, (_, name: string) => {
    used.add(name)
    const n = names.indexOf(name as K)
    if (n < 0) throw new Error(`statement: @${name} is not among its parameters`)
    return `$${n + 1}`
  })
  const unused = names.filter((n) => !used.has(n))
  if (unused.length > 0) throw new Error(`statement: ${unused.join(', ')} never used`)
  return { text: numbered, names }
}

/** Runs `s` with these values (null, never undefined, for SQL null), as a prepared statement. */
export async function run<K extends string, R extends object>(
  q: Q,
  s: Statement<K, R>,
  values: Readonly<Record<K, unknown>>,
): Promise<R[]> {
  const args = s.names.map((n) => values[n])
  return await q.unsafe<R[]>(s.text, args as never[], { prepare: true })
}
