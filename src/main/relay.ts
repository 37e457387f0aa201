import { loadConfig } from '../config'
import { eventSchemas } from '../events/contract'
import { createLogger } from '../logger'
import { startRelay } from '../relay/start-relay'
import { runMain } from './run-main'

runMain(async () => {
  const config = loadConfig(process.env, ['DATABASE_URL', 'KAFKA_BROKERS'])
  const logger = createLogger(config.logLevel, 'relay')
  const relay = await startRelay(config, logger, eventSchemas(config.relay.eventSchemaBaseUrl))
  // With METRICS_PORT=0 this line is the only way to find the chosen port, so it is
  // written at info even when LOG_LEVEL hides info (and 'relay started', which names it too).
  const portHidden = config.logLevel !== 'silent' && !logger.isLevelEnabled('info')
  if (config.relayMetricsPort === 0 && portHidden) {
    createLogger('info', 'relay').info(
      { component: 'relay', httpPort: relay.httpPort },
      'relay metrics, /healthz and /readyz on a chosen port',
    )
  }
  return relay
})
