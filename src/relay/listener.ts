/**
 * The LISTEN side of the wake-up, with a watchdog.
 *
 * postgres.js LISTENs on a dedicated connection and re-LISTENs after a reconnect, calling
 * `onlisten` again. Notifications sent while it was disconnected are not replayed, so every
 * (re)LISTEN rings the doorbell with cause `listen` and the relay drains what arrived in the gap.
 *
 * After an outage of a few seconds postgres.js can stop listening silently: its re-LISTEN
 * fails, the error is swallowed and `onlisten` never fires again. So the watchdog
 * sends itself a NOTIFY on a ping channel from another connection every CHECK_EVERY_MS; if the
 * listener hears none of the pings sent since the last check while the pings themselves
 * succeed, the listener is torn down and re-created.
 */
import { randomUUID } from 'node:crypto'
import type postgres from 'postgres'
import type { Logger } from '../logger'
import { OUTBOX_CHANNEL } from '../outbox/locks'
import type { Doorbell } from './doorbell'
import { relayConnection } from './relay-connection'

const PING_CHANNEL = 'outbox_relay_ping'
const CHECK_EVERY_MS = 2000

export type Listener = {
  /** True once a ping made the round trip, until the watchdog finds the listener deaf. */
  healthy(): boolean
  close(): Promise<void>
}

export function startListener(url: string, doorbell: Doorbell, log: Logger): Listener {
  const connect = () => relayConnection(url, 'outbox-relay-listen')
  const pinger = connect()
  const token = randomUUID()
  let listenSql = connect()
  let heard = true // nothing to miss before the first ping
  let healthy = false

  const listen = (sql: postgres.Sql) =>
    listenOn(sql, doorbell, (payload) => {
      if (payload === token) heard = true
    })

  const recreate = async (why: string) => {
    log.warn({ why }, 'LISTEN connection is not receiving; re-creating it')
    const old = listenSql
    listenSql = connect()
    await old.end({ timeout: 1 }).catch(() => {})
    await listen(listenSql)
    heard = true
  }

  const check = async () => {
    if (!heard) await recreate('missed a ping')
    heard = false
    await pinger`select pg_notify(${PING_CHANNEL}, ${token})`
    if (!healthy) log.info('LISTEN connection healthy')
    healthy = true
  }

  let running = Promise.resolve()
  listen(listenSql).catch((err: unknown) => {
    log.warn({ err: String(err) }, 'LISTEN failed; the watchdog will retry')
    heard = false
  })
  const timer = setInterval(() => {
    // One check at a time; a failed ping (database down) is retried on the next tick.
    running = running.then(check).catch((err: unknown) => {
      if (healthy) log.warn({ err: String(err) }, 'LISTEN watchdog cannot reach the database')
      healthy = false
      heard = true // a ping that was never sent cannot be missed
    })
  }, CHECK_EVERY_MS)

  return {
    healthy: () => healthy,
    async close() {
      clearInterval(timer)
      await running.catch(() => {})
      await Promise.all([listenSql.end({ timeout: 1 }), pinger.end({ timeout: 1 })])
    },
  }
}

/** LISTENs on `sql` for the writers' rings and for the watchdog's pings. */
async function listenOn(sql: postgres.Sql, doorbell: Doorbell, onPing: (payload: string) => void) {
  await sql.listen(
    OUTBOX_CHANNEL,
    () => doorbell.ring('notify'),
    () => doorbell.ring('listen'),
  )
  await sql.listen(PING_CHANNEL, onPing)
}
