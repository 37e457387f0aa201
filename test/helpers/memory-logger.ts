import { Writable } from 'node:stream'
import { pino } from 'pino'

export type LogLine = { level: number; msg: string; [field: string]: unknown }

/** A debug-level pino logger that keeps its lines, for asserting on what a component reported. */
export function memoryLogger() {
  const lines: LogLine[] = []
  /** The lines as written: JSON.parse keeps only the last of a repeated key. */
  const raw: string[] = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        raw.push(line)
        lines.push(JSON.parse(line))
      }
      done()
    },
  })
  return { logger: pino({ level: 'debug' }, stream), lines, raw }
}
