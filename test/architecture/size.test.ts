/**
 * A reader holds a function or a file in mind at once: no function in src/ over 60 lines, no
 * file over 200. Functions are found by TypeScript's own parser (every function-like node with
 * a body: declarations, methods, arrows, accessors), nested ones counted on their own too.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const SRC = resolve('src')
const MAX_FUNCTION_LINES = 60
const MAX_FILE_LINES = 200

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return files(path)
    return path.endsWith('.ts') ? [path] : []
  })
}

type Measured = { where: string; lines: number }

function measure(file: string): { lines: number; functions: Measured[] } {
  const text = readFileSync(file, 'utf8')
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
  const line = (pos: number) => source.getLineAndCharacterOfPosition(pos).line
  const functions: Measured[] = []
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const name = node.name?.getText(source) ?? '(anonymous)'
      const start = line(node.getStart(source))
      functions.push({
        where: `${relative(SRC, file)}:${start + 1} ${name}`,
        lines: line(node.end) - start + 1,
      })
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return { lines: text.split('\n').length - (text.endsWith('\n') ? 1 : 0), functions }
}

const measured = files(SRC).map((file) => ({ file: relative(SRC, file), ...measure(file) }))

describe('sizes in src/', () => {
  it('finds the functions it measures', () => {
    const all = measured.flatMap((m) => m.functions)
    expect(all.some((f) => f.where.includes('loadConfig'))).toBe(true)
    expect(all.length).toBeGreaterThan(200)
  })

  it(`no function over ${MAX_FUNCTION_LINES} lines`, () => {
    const long = measured
      .flatMap((m) => m.functions)
      .filter((f) => f.lines > MAX_FUNCTION_LINES)
      .map((f) => `${f.where}: ${f.lines} lines`)
    expect(long).toEqual([])
  })

  it(`no file over ${MAX_FILE_LINES} lines`, () => {
    const long = measured
      .filter((m) => m.lines > MAX_FILE_LINES)
      .map((m) => `${m.file}: ${m.lines} lines`)
    expect(long).toEqual([])
  })
})
