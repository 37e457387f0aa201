/**
 * `npm run consume`: the example inventory consumer (src/consumer); `npm run consume -- parked |
 * retry <id> | skip <id>` for its parked messages (src/consumer/cli.ts). Uses DATABASE_URL and
 * KAFKA_BROKERS, or for whichever is unset, what a running `npm start` recorded in .data/.
 */
import { loadConfig } from '../config'
import { CONSUME_USAGE, ConsumeUsageError, parseConsumeCommand } from '../consumer/cli'
import { runAdminCommand, startConsumerService } from '../consumer/service'
import { devDataDirOf } from '../dev/dev-services-file'
import { runMain } from './run-main'

const io = {
  out: (t: string) => process.stdout.write(t),
  err: (t: string) => process.stderr.write(t),
}

let command: ReturnType<typeof parseConsumeCommand>
try {
  command = parseConsumeCommand(process.argv.slice(2))
} catch (err) {
  if (!(err instanceof ConsumeUsageError)) throw err
  io.err(`consume: ${err.message}\n\n${CONSUME_USAGE}`)
  process.exit(2)
}
if (command.name === 'help') io.out(CONSUME_USAGE)
else if (command.name === 'run') {
  runMain(() => startConsumerService(loadConfig(process.env), devDataDirOf(process.env)))
} else {
  runAdminCommand(loadConfig(process.env), command, io, devDataDirOf(process.env)).then(
    (code) => {
      process.exitCode = code
    },
    (err: unknown) => {
      io.err(`consume: ${err instanceof Error ? err.message : String(err)}\n`)
      process.exitCode = 1
    },
  )
}
