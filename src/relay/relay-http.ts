/**
 * The relay's own small HTTP server (METRICS_PORT): /metrics for Prometheus, /healthz
 * (alive), /readyz (can do its job: database reachable, LISTEN healthy, publishing keeps up,
 * the outbox trigger as its wake-up needs it).
 */
import { Hono } from 'hono'
import type { Registry } from 'prom-client'
import { listen } from '../http/listen'
export type Readiness = {
  /** Age of the oldest event this relay owns and should be publishing (0 if none). */
  lagSeconds: () => Promise<number>
  /** How long the relay has made no progress while it has publishable events (s). */
  stalledSeconds?: () => Promise<number>
  /** undefined when the relay does not listen (poll mode). */
  listenerHealthy?: () => boolean
  ownedPartitions: () => number
  /**
   * Why the relay cannot yet know it can do its job: the database or the broker not reached
   * even once since it started (one reason each); empty once both have been.
   */
  notYetReached?: () => Promise<{ database?: string; broker?: string }>
  maxLagSeconds: number
  /**
   * How the database's outbox trigger departs from what the relay's wake-up needs, undefined if
   * it fits (triggerMismatch of doorbell-trigger.ts). Fatal: the trigger was disabled or dropped
   * under an adaptive or notify relay since its start check (e.g. by db:migrate with another
   * RELAY_WAKEUP), and its events wait for the fallback poll.
   */
  wakeupMismatch?: () => Promise<{ fatal: boolean; message: string } | undefined>
}

export async function checkRelayReadiness(r: Readiness) {
  const reasons: string[] = []
  const checks: Record<string, unknown> = {}
  const notYet = (await r.notYetReached?.()) ?? {}
  if (notYet.database) reasons.push(notYet.database)
  if (notYet.broker) reasons.push(notYet.broker)
  // Never reached, an empty partition list would read as nothing to publish: no proof of a database.
  let reachable = notYet.database === undefined
  if (!reachable) checks.lagSeconds = 'not read (database not reached yet)'
  else {
    try {
      reasons.push(...(await lagReasons(r, checks)))
    } catch (err) {
      reachable = false
      reasons.push(`database unreachable: ${(err as Error).message}`)
    }
  }
  if (r.wakeupMismatch) {
    // Not asked of a database that just failed to answer: /readyz would wait out a second
    // connect timeout to say nothing new.
    const trigger = reachable
      ? await triggerCheck(r.wakeupMismatch)
      : { check: 'not read (database unreachable)' }
    checks.trigger = trigger.check
    if (trigger.reason) reasons.push(trigger.reason)
  }
  if (r.listenerHealthy) {
    const healthy = r.listenerHealthy()
    checks.listener = healthy ? 'healthy' : 'not healthy'
    if (!healthy) reasons.push('LISTEN connection not (yet) confirmed by a ping')
  } else checks.listener = 'not used (poll mode)'
  const owned = r.ownedPartitions()
  // Owning nothing is fine: other relays own every partition and this one stands by.
  checks.partitions = owned > 0 ? `owns ${owned}` : 'standing by'
  return { ready: reasons.length === 0, reasons, checks }
}

/** The lag and stall checks, read from the outbox; throws if the database does not answer. */
async function lagReasons(r: Readiness, checks: Record<string, unknown>): Promise<string[]> {
  const reasons: string[] = []
  const lag = await r.lagSeconds()
  checks.lagSeconds = Math.round(lag * 1000) / 1000
  if (lag > r.maxLagSeconds) {
    reasons.push(
      `its oldest publishable event is ${Math.round(lag)} s old (limit ${r.maxLagSeconds} s)`,
    )
  }
  const stalled = r.stalledSeconds ? await r.stalledSeconds() : 0
  checks.stalledSeconds = Math.round(stalled * 1000) / 1000
  if (stalled > r.maxLagSeconds) {
    reasons.push(
      `no progress for ${Math.round(stalled)} s with events to publish (limit ${r.maxLagSeconds} s)`,
    )
  }
  return reasons
}

/** What /readyz says of the outbox trigger, and why the relay is not ready, if it is not. */
async function triggerCheck(
  wakeupMismatch: NonNullable<Readiness['wakeupMismatch']>,
): Promise<{ check: string; reason?: string }> {
  let mismatch: Awaited<ReturnType<typeof wakeupMismatch>>
  try {
    mismatch = await wakeupMismatch()
  } catch (err) {
    // Delivery does not depend on reading it; the lag says whether events go out.
    return { check: `unknown: ${(err as Error).message}` }
  }
  if (!mismatch) return { check: 'fits RELAY_WAKEUP' }
  if (!mismatch.fatal) return { check: `costs the writers: ${mismatch.message}` }
  // Events still go out, on the fallback poll only: seconds late instead of milliseconds.
  return {
    check: 'does not fit RELAY_WAKEUP',
    reason: `events wait for the fallback poll: ${mismatch.message}`,
  }
}

export function relayHttpApp(registry: Registry, readiness: Readiness) {
  return new Hono()
    .get('/healthz', (c) => c.json({ status: 'ok' }))
    .get('/readyz', async (c) => {
      const { ready, reasons, checks } = await checkRelayReadiness(readiness)
      return c.json({ status: ready ? 'ready' : 'not ready', reasons, checks }, ready ? 200 : 503)
    })
    .get('/metrics', async (c) =>
      // Each collect() catches its own failure (observability/metrics.ts): never a 500 here.
      c.body(await registry.metrics(), 200, { 'content-type': registry.contentType }),
    )
}

/** `hostname` undefined: every interface. */
export async function serveRelayHttp(app: Hono, port: number, hostname?: string) {
  return listen(app.fetch, { port, hostname, setting: 'METRICS_PORT' })
}
