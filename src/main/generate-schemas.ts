/** `npm run schemas`: writes the events' JSON Schemas from the zod contract into src/events/schemas. */
import { mkdirSync, writeFileSync } from 'node:fs'
import { generatedSchemas, schemaDir } from '../events/schema-files'

mkdirSync(schemaDir, { recursive: true })
for (const [name, text] of generatedSchemas()) {
  writeFileSync(`${schemaDir}${name}`, text)
  console.log(`wrote src/events/schemas/${name}`)
}
