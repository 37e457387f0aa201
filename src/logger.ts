import { createRequire } from 'node:module'
import { pino } from 'pino'

export type Logger = pino.Logger

/**
 * pino-pretty is a development dependency: a production install (the image) has none, and
 * then a terminal gets the JSON lines too instead of a failed start.
 */
function prettyAvailable(): boolean {
  try {
    createRequire(import.meta.url).resolve('pino-pretty')
    return true
  } catch {
    return false
  }
}

/** JSON lines for machines; pretty output when a person is watching a terminal. */
export function createLogger(level: string, name?: string): Logger {
  const pretty = process.stdout.isTTY === true && prettyAvailable()
  return pino({
    level,
    name,
    redact: { paths: ['password', '*.password', 'databaseUrl'], censor: '[redacted]' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}),
  })
}

/** `postgres://user:secret@host/db` -> `postgres://user:***@host/db`, for logs and banners. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@')
}
