/**
 * The docs against the code. docs/operations.md's settings table names exactly the settings
 * src/config.ts reads; the README's short table names only real ones; and every relative link
 * in README.md and docs/*.md points to a file that exists.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { settingNames } from '../../src/config'

const root = fileURLToPath(new URL('../../', import.meta.url))
const read = (path: string) => readFileSync(join(root, path), 'utf8')

/** Markdown without fenced code blocks and inline code spans: what renders as prose. */
function prose(markdown: string): string {
  return markdown.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, '').replace(/`[^`\n]*`/g, '')
}

/**
 * The setting names in the first column of the tables under the `## heading` section (up to the
 * next `## `): every `NAME` in backticks there. Throws if the section or its table is missing,
 * so renaming the heading cannot make the check pass vacuously.
 */
function settingsInSection(markdown: string, heading: string): string[] {
  const lines = markdown.split('\n')
  const start = lines.indexOf(`## ${heading}`)
  if (start < 0) throw new Error(`no "## ${heading}" section`)
  const end = lines.findIndex((line, i) => i > start && line.startsWith('## '))
  const rows = lines
    .slice(start + 1, end < 0 ? undefined : end)
    .filter((line) => line.startsWith('|') && !/^\|[\s:|-]+\|$/.test(line))
  // The first row of a table is its header.
  const firstCells = rows.slice(1).map((row) => row.split('|')[1] ?? '')
  const names = firstCells.flatMap((cell) =>
    [...cell.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1] ?? ''),
  )
  if (names.length === 0) throw new Error(`no settings table under "## ${heading}"`)
  return names
}

/** Relative link targets of a markdown file (`[text](target)`, images too), without #anchors. */
function relativeLinks(markdown: string): string[] {
  return [...prose(markdown).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)]
    .map((m) => m[1] ?? '')
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target) && !target.startsWith('#'))
    .map((target) => target.split('#')[0] ?? '')
}

describe('docs/operations.md: Settings', () => {
  const documented = settingsInSection(read('docs/operations.md'), 'Settings')

  it('lists every setting of src/config.ts, and nothing else', () => {
    expect([...documented].sort()).toEqual([...settingNames].sort())
  })

  it('lists each setting once', () => {
    expect(documented.filter((name, i) => documented.indexOf(name) !== i)).toEqual([])
  })
})

describe('README.md: Settings people change', () => {
  it('names only settings that src/config.ts reads', () => {
    const named = settingsInSection(read('README.md'), 'Settings people change')
    expect(named.filter((name) => !settingNames.includes(name))).toEqual([])
  })
})

describe('relative links', () => {
  const files = [
    'README.md',
    ...readdirSync(join(root, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ]

  it.each(files)('%s links only to files that exist', (file) => {
    const broken = relativeLinks(read(file))
      .map((target) => relative(root, join(root, dirname(file), target)))
      .filter((target) => !existsSync(join(root, target)))
    expect(broken).toEqual([])
  })
})

describe('the parsers themselves', () => {
  const doc = [
    '# Title',
    '## Settings',
    '| setting | default |',
    '| ------- | ------- |',
    '| `PORT`  | `3000`  |',
    '| `A_B`, `C` | x `NOT_FIRST_COLUMN` |',
    '## Next',
    '| setting |',
    '| --- |',
    '| `OTHER` |',
    'See [ops](docs/operations.md#settings), [web](https://example.com), [here](#top),',
    '![chart](docs/chart.svg "title") and `[code](not/a/link.md)`.',
    '```sh',
    '[fenced](not/a/link.md)',
    '```',
  ].join('\n')

  it('reads the first column of the named section only', () => {
    expect(settingsInSection(doc, 'Settings')).toEqual(['PORT', 'A_B', 'C'])
    expect(() => settingsInSection(doc, 'Missing')).toThrow(/no "## Missing" section/)
    expect(() => settingsInSection('## Settings\nno table', 'Settings')).toThrow(/no settings/)
  })

  it('finds relative links outside code, without anchors', () => {
    expect(relativeLinks(doc)).toEqual(['docs/operations.md', 'docs/chart.svg'])
  })
})
