import { loadConfig } from '../config'
import { migrateDatabase } from '../db/migrate'
import { createLogger, redactUrl } from '../logger'
import { runMain } from './run-main'

runMain(async () => {
  const config = loadConfig(process.env, ['DATABASE_URL'])
  // RELAY_WAKEUP, as the relays will run: for `poll` the doorbell trigger is disabled, for the
  // other modes enabled. Not set: left as it is (its default must not undo a `poll` setup).
  const mode = process.env.RELAY_WAKEUP ? config.relay.mode : undefined
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
