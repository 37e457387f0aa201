/**
 * The committed JSON Schemas of the events (src/events/schemas), generated from the contract
 * by `npm run schemas`. Old versions stay in the directory so their `ce_dataschema` URIs keep
 * resolving after a type moves to a new version.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { type EventType, eventContract, eventJsonSchema, schemaFileName } from './contract'

export const schemaDir = fileURLToPath(new URL('./schemas/', import.meta.url))

/** File name -> schema text, for every committed file. */
export function readCommittedSchemas(dir = schemaDir): Map<string, string> {
  const files = new Map<string, string>()
  for (const name of readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    files.set(name, readFileSync(`${dir}${name}`, 'utf8'))
  }
  return files
}

/** What the current contract generates: file name -> text, formatted as committed. */
export function generatedSchemas(): Map<string, string> {
  const files = new Map<string, string>()
  for (const type of Object.keys(eventContract) as EventType[]) {
    const name = schemaFileName(type, eventContract[type].version)
    files.set(name, `${JSON.stringify(eventJsonSchema(type), null, 2)}\n`)
  }
  return files
}
