/** `npm start`: API and relay in one process, with embedded services for whatever is not configured. */
import { loadConfig } from '../config'
import { wakeupToFit } from '../db/doorbell-trigger'
import { migrateDatabase } from '../db/migrate'
import { printDevBanner } from '../dev/banner'
import { startDevServices } from '../dev/dev-services'
import { createLogger } from '../logger'
import { startRelay } from '../relay/start-relay'
import { startApi } from '../start-api'
import { runMain } from './run-main'

runMain(async () => {
  const logger = createLogger(loadConfig().logLevel)
  const dev = await startDevServices(loadConfig())
  await migrateDatabase(dev.config.databaseUrl, {}, wakeupToFit(dev.config.relay.mode))
  const api = await startApi(dev.config, logger)
  const relay = await startRelay(dev.config, logger)
  printDevBanner(dev, api.port)
  return {
    async stop() {
      await api.stop()
      await relay.stop()
      await dev.stop()
    },
  }
})
