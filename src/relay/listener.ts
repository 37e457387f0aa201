/**
 * The LISTEN side of the wake-up, with a watchdog.
 *
 * postgres.js LISTENs on a dedicated connection and re-LISTENs after a reconnect, calling
 * `onlisten` again. Notifications sent while it was disconnected are not replayed, so every
 * (re)LISTEN rings the doorbell with cause `listen` and the relay drains what arrived in the gap.
 *
 * After an outage of a few seconds postgres.js can stop listening silently: its re-LISTEN
 * fails, the error is swallowed and `onlisten` never fires again. So the watchdog
 * sends itself a NOTIFY on a ping channel from another connection every `checkEveryMs`; if the
 * listener hears none of the pings sent since the last check while the pings themselves
 * succeed, the listener is torn down and re-created.
 */
import { randomUUID } from 'node:crypto'
import postgres from 'postgres'
import { reconnectBackoff } from '../db/client'
import type { Logger } from '../logger'
import { OUTBOX_CHANNEL } from '../outbox/locks'
import type { Doorbell } from './doorbell'
import { RELAY_SESSION_TIMEOUTS } from './session'

const PING_CHANNEL = 'outbox_relay_ping'

export type Listener = {
  /** True once a ping made the round trip, until the watchdog finds the listener deaf. */
  healthy(): boolean
  close(): Promise<void>
}

export function startListener(
  url: string,
  doorbell: Doorbell,
  log: Logger,
  options: { checkEveryMs?: number; applicationName?: string } = {},
): Listener {
  const checkEveryMs = options.checkEveryMs ?? 2000
  const connect = () =>
    postgres(url, {
      max: 1,
      connect_timeout: 5,
      backoff: reconnectBackoff,
      onnotice: () => {},
      connection: {
        application_name: options.applicationName ?? 'outbox-relay-listen',
        ...RELAY_SESSION_TIMEOUTS,
      },
    })
  const pinger = connect()
  const token = randomUUID()
  let listenSql = connect()
  let heard = true // nothing to miss before the first ping
  let healthy = false

  const listen = async (sql: postgres.Sql) => {
    await sql.listen(
      OUTBOX_CHANNEL,
      () => doorbell.ring('notify'),
      () => doorbell.ring('listen'),
    )
    await sql.listen(PING_CHANNEL, (payload) => {
      if (payload === token) heard = true
    })
  }

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
  }, checkEveryMs)

  return {
    healthy: () => healthy,
    async close() {
      clearInterval(timer)
      await running.catch(() => {})
      await Promise.all([listenSql.end({ timeout: 1 }), pinger.end({ timeout: 1 })])
    },
  }
}
