/**
 * The doorbell trigger (drizzle/0009) follows the wake-up mode.
 *
 * `adaptive` and `notify` need it: it is how writers ring. `poll` does not: nobody listens, and
 * with the trigger in place every insert still runs its WHEN clause, a lock probe that fails
 * while the polling relay holds the awake locks, a cost the writers pay for nothing
 * (docs/benchmarks.md). So `db:migrate` disables the trigger when RELAY_WAKEUP is `poll` and enables it
 * for the other modes; without RELAY_WAKEUP set it leaves the trigger as it is (a migration run
 * by hand on a polling deployment must not turn it back on). The relay checks at start that
 * the database fits its mode.
 *
 * Changing it takes a brief table lock (ALTER TABLE ... DISABLE TRIGGER), so it is done only when
 * the state differs. To move a running system from `adaptive` to `poll`: restart the relays with
 * `poll` first (they hold the awake locks, so writers stop ringing), then migrate with `poll`.
 * Back: migrate with `adaptive` first (the polling relays still hold the locks, so the writers
 * only probe), then restart the relays.
 */
import type postgres from 'postgres'
import type { Logger } from '../logger'

/** Who rings: see src/relay/relay.ts. The trigger's state follows it. */
export type WakeupMode = 'adaptive' | 'notify' | 'poll'

export type DoorbellTrigger = 'enabled' | 'disabled' | 'missing'

/** Whether inserts into the outbox run the doorbell trigger. */
export async function doorbellTrigger(sql: postgres.Sql): Promise<DoorbellTrigger> {
  // tgenabled: 'O' fires in normal sessions; 'D' disabled; 'R' replica-only; 'A' always.
  const [row] = await sql<{ enabled: string }[]>`
    select tgenabled as enabled from pg_trigger
     where tgname = 'outbox_notify' and tgrelid = to_regclass('outbox')`
  if (!row) return 'missing'
  return row.enabled === 'O' || row.enabled === 'A' ? 'enabled' : 'disabled'
}

/** What the mode needs. */
export const triggerFor = (mode: WakeupMode): 'enabled' | 'disabled' =>
  mode === 'poll' ? 'disabled' : 'enabled'

/** The database fits the mode (for `poll`, a trigger dropped by hand is no trigger work either). */
const fits = (mode: WakeupMode, state: DoorbellTrigger) =>
  state === triggerFor(mode) || (mode === 'poll' && state === 'missing')

/** A ringing mode over a dropped trigger: migrations do not recreate it. */
const missingTrigger = (mode: WakeupMode) =>
  `RELAY_WAKEUP=${mode} needs the outbox_notify trigger, which is missing: recreate it ` +
  '(drizzle/0009_ring_only_when_asleep.sql, then drizzle/0012_skip_trace.sql) or run with RELAY_WAKEUP=poll'

/**
 * RELAY_WAKEUP as db:migrate fits the trigger to it: only when the setting was given (`env`, the
 * environment the entrypoint read its configuration from), since its default must not undo a
 * `poll` setup when a migration is run by hand.
 */
export const wakeupToFit = (mode: WakeupMode, env: Readonly<Record<string, string | undefined>>) =>
  env.RELAY_WAKEUP ? mode : undefined

/**
 * The database does not fit RELAY_WAKEUP: a setting to change (or a migration to run), printed
 * as its one-line message, like a configuration problem, not as a crash.
 */
export class WakeupMismatch extends Error {
  override name = 'WakeupMismatch'
}

/**
 * Enables or disables the trigger to fit `mode` (owner only). Returns the state it set, or
 * undefined when it already fitted. The ALTER waits at most LOCK_TIMEOUT for transactions open
 * on the outbox, since every insert queues behind it meanwhile; past that it fails, and the
 * migration can simply be run again.
 */
export async function fitDoorbellTrigger(
  sql: postgres.Sql,
  mode: WakeupMode,
): Promise<'enabled' | 'disabled' | undefined> {
  const now = await doorbellTrigger(sql)
  if (fits(mode, now)) return undefined
  if (now === 'missing') throw new Error(missingTrigger(mode))
  const want = triggerFor(mode)
  await sql.begin(async (tx) => {
    await tx.unsafe(`set local lock_timeout = '${LOCK_TIMEOUT}'`)
    await tx.unsafe(
      `alter table outbox ${want === 'enabled' ? 'enable' : 'disable'} trigger outbox_notify`,
    )
  })
  return want
}

const LOCK_TIMEOUT = '5s'

/**
 * The relay's check at start: undefined when the database fits `mode`, else what is wrong.
 * `fatal` problems mean the mode cannot work as configured (a relay that waits for rings nobody
 * makes would deliver only on its fallback poll); the other is a cost, not a fault.
 */
export function triggerMismatch(
  mode: WakeupMode,
  state: DoorbellTrigger,
): { fatal: boolean; message: string } | undefined {
  if (fits(mode, state)) return undefined
  if (mode === 'poll') {
    return {
      fatal: false,
      message:
        'RELAY_WAKEUP=poll, but the outbox trigger is enabled: every insert still runs its lock ' +
        'probe. Run db:migrate with RELAY_WAKEUP=poll to disable it.',
    }
  }
  if (state === 'missing') return { fatal: true, message: missingTrigger(mode) }
  return {
    fatal: true,
    message:
      `RELAY_WAKEUP=${mode} needs the outbox trigger, which is disabled (the database was ` +
      `migrated with RELAY_WAKEUP=poll?): run db:migrate with RELAY_WAKEUP=${mode}, or start ` +
      'the relay with RELAY_WAKEUP=poll.',
  }
}

/**
 * Refuses to start in a mode the database does not fit (src/db/doorbell-trigger.ts): an
 * `adaptive` or `notify` relay over a disabled trigger would wait for rings nobody makes. A
 * polling relay over an enabled trigger works and is only told what it costs. A database that
 * cannot be reached is not checked: the relay starts anyway and waits for it, as it always has.
 */
export async function checkTriggerAtStart(
  sql: postgres.Sql,
  mode: WakeupMode,
  log: Logger,
): Promise<void> {
  let state: Awaited<ReturnType<typeof doorbellTrigger>>
  try {
    state = await doorbellTrigger(sql)
  } catch (err) {
    log.warn({ err }, 'could not check the outbox trigger against RELAY_WAKEUP; starting anyway')
    return
  }
  const mismatch = triggerMismatch(mode, state)
  if (!mismatch) return
  if (mismatch.fatal) throw new WakeupMismatch(mismatch.message)
  log.warn(mismatch.message)
}
