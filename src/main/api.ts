import { loadConfig } from '../config'
import { createLogger } from '../logger'
import { startApi } from '../start-api'
import { runMain } from './run-main'

runMain(async () => {
  const config = loadConfig(process.env, ['DATABASE_URL'])
  return startApi(config, createLogger(config.logLevel, 'api'))
})
