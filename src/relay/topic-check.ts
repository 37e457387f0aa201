/**
 * Which of a batch's topics the cluster lacks. The relay never creates topics
 * (`allowAutoTopicCreation: false`): an event routed to a missing one waits for it (drain.ts)
 * instead of failing attempt after attempt until it is dead-lettered.
 *
 * A topic seen once is trusted from then on, so a steady stream asks nothing: only a batch with
 * a topic not seen yet costs one metadata request (kafkajs admin `listTopics`). A topic deleted
 * later fails the send like any broker error; `forget` then makes every topic checked again.
 * Each topic is logged once when found missing and once when it appears.
 */
import type { Kafka } from 'kafkajs'
import type { Logger } from '../logger'
import { lazyClient } from './lazy-client'

export type TopicCheck = {
  /** The topics of `topics` the cluster does not have (empty: all exist). */
  missing(topics: readonly string[]): Promise<string[]>
  forget(): void
  /** Drops the admin connection (also when stuck): the next check opens a new one. */
  disconnect(): Promise<void>
}

export function createTopicCheck(kafka: Kafka, log: Logger): TopicCheck {
  const known = new Set<string>()
  const reported = new Set<string>()
  const admin = lazyClient(() => kafka.admin())

  return {
    async missing(topics) {
      const unseen = topics.filter((t) => !known.has(t))
      if (unseen.length === 0) return []
      const existing = new Set(await (await admin.get()).listTopics())
      const missing: string[] = []
      for (const topic of unseen) {
        if (existing.has(topic)) {
          known.add(topic)
          if (reported.delete(topic)) log.info({ topic }, 'topic exists now; its events go out')
        } else {
          missing.push(topic)
          if (!reported.has(topic)) {
            reported.add(topic)
            log.warn(
              { topic },
              'topic does not exist: its events wait (not dead-lettered), and each one holds back its aggregate, until it is created',
            )
          }
        }
      }
      return missing
    },
    forget: () => known.clear(),
    disconnect: () => admin.close(),
  }
}
