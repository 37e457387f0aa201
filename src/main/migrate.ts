import { loadConfig } from '../config'
import { migrateDatabase } from '../db/migrate'
import { createLogger, redactUrl } from '../logger'
import { runMain } from './run-main'

runMain(async () => {
  const config = loadConfig(process.env, ['DATABASE_URL'])
  // RELAY_WAKEUP, as the relays will run: in `poll` mode the doorbell trigger is disabled.
  const mode = config.relay.mode
  const done = await migrateDatabase(config.databaseUrl, config.rolePasswords, mode)
  createLogger(config.logLevel, 'migrate').info(
    { database: redactUrl(config.databaseUrl), wakeup: mode, ...done },
    'migrated',
  )
  process.exit(0)
})
