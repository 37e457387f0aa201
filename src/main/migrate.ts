import { loadConfig } from '../config'
import { wakeupToFit } from '../db/doorbell-trigger'
import { migrateDatabase } from '../db/migrate'
import { createLogger, redactUrl } from '../logger'
import { runMain } from './run-main'

runMain(async () => {
  const config = loadConfig(process.env, ['DATABASE_URL'])
  // RELAY_WAKEUP, as the relays will run: for `poll` the doorbell trigger is disabled, for the
  // other modes enabled; not set, left as it is.
  const mode = wakeupToFit(config.relay.mode, process.env)
  const done = await migrateDatabase(config.databaseUrl, config.rolePasswords, mode)
  createLogger(config.logLevel, 'migrate').info(
    {
      database: redactUrl(config.databaseUrl),
      wakeup: mode ?? 'not set: trigger left as is',
      ...done,
    },
    'migrated',
  )
  process.exit(0)
})
