/** `npm start`: API and relay in one process, with embedded services for whatever is not configured. */
import { loadConfig } from '../config'
import { wakeupToFit } from '../db/doorbell-trigger'
import { migrateDatabase } from '../db/migrate'
import { printDevBanner } from '../dev/banner'
import { startDevServices } from '../dev/dev-services'
import { devDataDirOf } from '../dev/dev-services-file'
import { describeStartFailure } from '../dev/start-failure'
import { createTopicsOnFirstUse } from '../dev/topics-on-first-use'
import { eventSchemas } from '../events/contract'
import { createLogger } from '../logger'
import { startRelay } from '../relay/start-relay'
import { startApi } from '../start-api'
import { isUserFixable, runMain, StartFailure, type Stoppable } from './run-main'

runMain(async () => {
  const config = loadConfig()
  const logger = createLogger(config.logLevel)
  // Stopped in reverse: the relay and the API before the database they use.
  const started: Stoppable[] = []
  try {
    const dev = await startDevServices(config, devDataDirOf(process.env))
    started.push(dev)
    await migrateDatabase(
      dev.config.databaseUrl,
      {},
      wakeupToFit(dev.config.relay.mode, process.env),
    )
    const api = await startApi(dev.config, logger)
    started.push(api)
    const relay = await startRelay(
      dev.config,
      logger,
      eventSchemas(dev.config.relay.eventSchemaBaseUrl),
    )
    started.push(relay)
    if (dev.createTopic) {
      const { createTopic } = dev
      started.push(
        createTopicsOnFirstUse({
          databaseUrl: dev.config.databaseUrl,
          createTopic: (name) => createTopic(name, 3),
          topicTemplate: dev.config.kafka.topicTemplate,
          logger,
        }),
      )
    }
    printDevBanner(dev, api.port, relay.httpPort)
  } catch (err) {
    // A failed start leaves nothing running (the embedded Postgres is a process of its own).
    for (const s of started.reverse()) await s.stop().catch(() => {})
    throw isUserFixable(err) ? err : new StartFailure(describeStartFailure(err, config))
  }
  return {
    async stop() {
      for (const s of started.reverse()) await s.stop()
    },
  }
})
