/**
 * Replay runs (npm run outbox -- replay) as the relay reports them: the CLI that drives a run
 * has no metrics endpoint of its own, so every relay reads the runs' progress from the table.
 */
import { Gauge, type Registry } from 'prom-client'
import type { ReplayRun } from '../outbox/replay-queries'

/** How many runs, newest first, are reported: older ones have long finished. */
export const REPORTED_RUNS = 20

export function createReplayMetrics(registry: Registry, runs: () => Promise<ReplayRun[]>): void {
  new Gauge({
    name: 'outbox_replayed_events',
    help: 'Events a replay run has sent and had acknowledged, by run and topic (the latest runs).',
    labelNames: ['run', 'topic', 'status'] as const,
    registers: [registry],
    async collect() {
      this.reset()
      // Unreadable (the database down): no series this scrape, and the rest still answers.
      for (const run of await runs().catch(() => [])) {
        for (const [topic, n] of Object.entries(run.doneByTopic)) {
          this.set({ run: String(run.id), topic, status: run.status }, n)
        }
      }
    },
  })
}
