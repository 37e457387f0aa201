/**
 * The consumer's Prometheus metrics, served on METRICS_PORT (consumer-http.ts):
 * events handled by outcome, messages parked, and the lag of each partition it holds.
 */
import { count, isNull } from 'drizzle-orm'
import { Counter, Gauge, type Registry } from 'prom-client'
import type { Db } from '../db/client'
import { parkedMessages } from '../db/schema'
import { orNaN } from '../observability/metrics'

/**
 * `gap`: a later version parked in the inbox until the missing one arrives; `skipped`: not an
 * event (parked as such).
 */
export type HandledOutcome = 'applied' | 'stale' | 'gap' | 'redelivered' | 'rejected' | 'skipped'

export type ConsumerMetrics = {
  handled(outcome: HandledOutcome): void
  parked(): void
  lag(partition: number, messages: number): void
  /** A new assignment: partitions held before may be another member's now. */
  forgetLag(): void
}

export const noConsumerMetrics: ConsumerMetrics = {
  handled: () => {},
  parked: () => {},
  lag: () => {},
  forgetLag: () => {},
}

export function createConsumerMetrics(registry: Registry, db: Db): ConsumerMetrics {
  const handled = new Counter({
    name: 'inventory_consumer_events_total',
    help: 'Messages handled by the inventory consumer, by outcome.',
    labelNames: ['outcome'] as const,
    registers: [registry],
  })
  const parked = new Counter({
    name: 'inventory_consumer_parked_total',
    help: 'Messages set aside after their retries (inventory.parked_messages).',
    registers: [registry],
  })
  new Gauge({
    name: 'inventory_consumer_parked_waiting',
    help: 'Parked messages not yet retried or skipped, across the group.',
    registers: [registry],
    async collect() {
      // NaN while the database cannot be read: the scrape still answers with the rest.
      this.set(
        await orNaN(async () => {
          const [row] = await db
            .select({ n: count() })
            .from(parkedMessages)
            .where(isNull(parkedMessages.releasedAt))
          return row?.n ?? 0
        }),
      )
    },
  })
  const lag = new Gauge({
    name: 'inventory_consumer_lag_messages',
    help: 'Messages behind the end of each partition this member holds, after its last batch.',
    labelNames: ['partition'] as const,
    registers: [registry],
  })
  return {
    handled: (outcome) => handled.inc({ outcome }),
    parked: () => parked.inc(),
    lag: (partition, messages) => lag.set({ partition: String(partition) }, messages),
    forgetLag: () => lag.reset(),
  }
}
