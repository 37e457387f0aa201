import { loadConfig } from '../config'
import { createLogger } from '../logger'
import { startRelay } from '../relay/start-relay'
import { runMain } from './run-main'

runMain(async () => {
  const config = loadConfig(process.env, ['DATABASE_URL', 'KAFKA_BROKERS'])
  return startRelay(config, createLogger(config.logLevel, 'relay'))
})
