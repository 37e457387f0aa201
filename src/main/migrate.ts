import { loadConfig } from '../config'
import { migrateDatabase } from '../db/migrate'
import { createLogger, redactUrl } from '../logger'
import { runMain } from './run-main'

runMain(async () => {
  const config = loadConfig(process.env, ['DATABASE_URL'])
  const logins = await migrateDatabase(config.databaseUrl, config.rolePasswords)
  createLogger(config.logLevel, 'migrate').info(
    { database: redactUrl(config.databaseUrl), loginsEnabled: logins },
    'migrated',
  )
  process.exit(0)
})
