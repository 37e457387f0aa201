import { join, relative } from 'node:path'
import { redactUrl } from '../logger'
import type { DevServices } from './dev-services'

export function printDevBanner(dev: DevServices, port: number, relayPort: number): void {
  const { config, embedded, dataDir } = dev
  const url = `http://localhost:${port}`
  const lines = [
    '',
    `  Orders API   ${url}`,
    `  Relay        http://localhost:${relayPort}/metrics  (and /readyz, /healthz)`,
    `  Postgres     ${redactUrl(config.databaseUrl)}${embedded.postgres ? `  (embedded; data in ${join(relative(process.cwd(), dataDir), 'postgres')})` : ''}`,
    `  Kafka        ${config.kafka.brokers.join(',')}  topic ${config.kafka.topic}`,
    ...(embedded.kafka
      ? [
          '               (in-process development broker: events are kept in memory only and',
          '                vanish when this process stops; it creates a topic the first time an',
          '                event waits for it, which a real Kafka here would not; set',
          '                KAFKA_BROKERS for a real one)',
        ]
      : []),
    '',
    '  Try it:',
    `    curl -i -X POST ${url}/orders -H 'content-type: application/json' -d '{"item":"book","quantity":2}'`,
    '  Watch events:  npm run tail',
    '',
  ]
  process.stdout.write(`${lines.join('\n')}\n`)
}
