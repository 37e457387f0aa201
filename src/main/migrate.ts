import { loadConfig } from '../config'
import { migrateDatabase } from '../db/migrate'
import { createLogger, redactUrl } from '../logger'
import { runMain } from './run-main'

runMain(async () => {
  const config = loadConfig(process.env, ['DATABASE_URL'])
  await migrateDatabase(config.databaseUrl)
  createLogger(config.logLevel, 'migrate').info(
    { database: redactUrl(config.databaseUrl) },
    'migrated',
  )
  process.exit(0)
})
