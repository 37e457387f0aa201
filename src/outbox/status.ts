/**
 * The operator's view of the outbox: counts, what is not published by topic, and who owns the
 * partitions (`npm run outbox -- status`). Read-only; src/ops formats it.
 */
import type postgres from 'postgres'
import { RELAY_PARTITIONS } from '../db/schema'
import { LOCK } from './locks'
import { WAITING_FOR_TOPIC } from './parked'
import { DEFAULT_TOPIC_TEMPLATE, routedTopicSql } from './routing'
import { readStranded, type Stranded } from './stranded'

/** A backend holding relay locks in this database: a live relay (and what it owns). */
export type PartitionOwner = {
  pid: number
  applicationName: string | null
  /** null for a Unix-socket connection, or when this role may not see other roles' addresses. */
  clientAddress: string | null
  backendStart: Date | null
  /** The partitions it owns (owner lock (780001, p)), ascending. */
  partitions: number[]
  /** How many of them it is draining right now (adaptive mode's awake lock (780003, p)). */
  awake: number
  /** Holds a membership lock (780002, slot): counted by the other relays when they share. */
  member: boolean
}

/** The events of one topic (its row's `topic`, else the template's topic for its type). */
export type TopicStatus = {
  topic: string
  pending: number
  dead: number
  published: number
  /** Pending events held because the cluster lacked the topic at their last attempt. */
  waitingForTopic: number
}

export type OutboxStatus = {
  /** Unpublished and not dead: waiting for the relay (or for a retry time). */
  pending: number
  dead: number
  /** Age of the oldest pending event, in seconds; 0 when none. */
  oldestPendingAgeSeconds: number
  published: number
  /** When the oldest event still kept occurred (retention deletes published ones older than OUTBOX_RETENTION). */
  oldestPublishedAt: Date | null
  partitions: number
  ownedPartitions: number
  liveRelays: number
  owners: PartitionOwner[]
  topics: TopicStatus[]
  /** Rows no relay will claim, partitions held by prepared transactions. */
  stranded: Stranded
}

/**
 * Counts, and who owns the partitions. Owners are read from pg_locks (session advisory locks
 * with two int4 keys appear as classid = key 1, objid = key 2, objsubid = 2), restricted to this
 * database: advisory locks are per database. `published` counts every kept row: a full scan,
 * fine for an operator's command, not for a scrape.
 */
export async function readStatus(
  sql: postgres.Sql,
  topicTemplate = DEFAULT_TOPIC_TEMPLATE,
): Promise<OutboxStatus> {
  const [counts] = await sql<
    { pending: string; dead: string; age: number | null; published: string; oldest: Date | null }[]
  >`
    with u as (
      select count(*) filter (where dead_at is null) as pending,
             count(*) filter (where dead_at is not null) as dead,
             extract(epoch from now() - min(occurred_at) filter (where dead_at is null))::float8
               as age
        from outbox_unpublished)
    select u.pending, u.dead, u.age, k.kept - u.pending - u.dead as published, k.oldest
      from u, (select count(*) as kept, min(occurred_at) as oldest from outbox) k`
  const owners = await sql<PartitionOwner[]>`
    select l.pid, a.application_name as "applicationName",
           host(a.client_addr) as "clientAddress", a.backend_start as "backendStart",
           coalesce(array_agg(l.objid::int order by l.objid)
                      filter (where l.classid = ${LOCK.owner}), '{}') as partitions,
           (count(*) filter (where l.classid = ${LOCK.awake} and l.mode = 'ExclusiveLock'))::int
             as awake,
           bool_or(l.classid = ${LOCK.member}) as member
      from pg_locks l
      left join pg_stat_activity a on a.pid = l.pid
     where l.locktype = 'advisory' and l.objsubid = 2 and l.granted
       and l.database = (select oid from pg_database where datname = current_database())
       and l.classid in (${LOCK.owner}, ${LOCK.member}, ${LOCK.awake})
     group by l.pid, a.application_name, a.client_addr, a.backend_start
    having bool_or(l.classid in (${LOCK.owner}, ${LOCK.member}))
     order by count(*) filter (where l.classid = ${LOCK.owner}) desc, l.pid`
  return {
    topics: await readTopicStatus(sql, topicTemplate),
    pending: Number(counts?.pending ?? 0),
    dead: Number(counts?.dead ?? 0),
    oldestPendingAgeSeconds: Math.max(0, counts?.age ?? 0),
    published: Number(counts?.published ?? 0),
    oldestPublishedAt: counts?.oldest ?? null,
    partitions: RELAY_PARTITIONS,
    ownedPartitions: owners.reduce((n, o) => n + o.partitions.length, 0),
    liveRelays: owners.filter((o) => o.member).length,
    owners: [...owners],
    stranded: await readStranded(sql),
  }
}

/** The counts by topic, routed as the relay routes them (src/outbox/routing.ts). */
async function readTopicStatus(sql: postgres.Sql, template: string): Promise<TopicStatus[]> {
  const rows = await sql<(Omit<TopicStatus, 'topic'> & { topic: string })[]>`
    select ${routedTopicSql(sql, template, 'o')} as topic,
           (count(*) filter (where u.id is not null and u.dead_at is null))::int as pending,
           (count(*) filter (where u.dead_at is not null))::int as dead,
           (count(*) filter (where u.id is null))::int as published,
           (count(*) filter (where u.dead_at is null
                               and u.failure = ${WAITING_FOR_TOPIC}))::int as "waitingForTopic"
      from outbox o
      left join outbox_unpublished u on u.id = o.id
     group by 1
     order by 1`
  return [...rows]
}
