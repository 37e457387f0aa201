/**
 * `npm run tail [-- [topic ...] [--from-beginning]]`: prints events as they arrive (src/ops/tail.ts).
 * Uses KAFKA_BROKERS, or the in-process broker a running `npm start` recorded in .data/.
 */
import { loadConfig } from '../config'
import { devDataDirOf, readDevServices } from '../dev/dev-services-file'
import { parseTailArgs, startTail } from '../ops/tail'
import { runMain } from './run-main'

runMain(async () => {
  const config = loadConfig()
  const brokers =
    config.kafka.brokers ?? (await readDevServices(devDataDirOf(process.env)))?.brokers
  if (!brokers)
    throw new Error('KAFKA_BROKERS is not set and no `npm start` is running here to tail.')
  const options = parseTailArgs(process.argv.slice(2), [
    config.kafka.topic,
    config.kafka.inventoryTopic,
  ])
  return startTail(brokers, options, {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
  })
})
