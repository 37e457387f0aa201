/**
 * The design before issue 32, kept for the `cost` scenario's side-by-side only: its claim and
 * its mark, word for word as the relay ran them (an UPDATE per published event), on a database
 * migrated up to drizzle/0013. Not used by the relay.
 */
import type postgres from 'postgres'

export async function previousClaim(q: postgres.Sql, owned: number[], limit: number) {
  return q<{ id: string }[]>`
    select pg_backend_pid() as session, o.id, o.event_id as "eventId", o.event_type as "eventType",
           o.aggregate_type as "aggregateType", o.aggregate_id as "aggregateId", o.payload,
           o.occurred_at as "occurredAt", o.attempts, o.sequence, o.schema_version as "schemaVersion",
           o.traceparent, o.topic, o.headers
      from outbox o
     where o.published_at is null
       and o.dead_at is null
       and o.partition = any(${owned}::int[])
       and (o.next_attempt_at is null or o.next_attempt_at <= now())
       and (o.id > ${0} or o.id <> all(${[]}::bigint[]))
       and not exists (
             select 1 from outbox e
              where e.aggregate_type = o.aggregate_type and e.aggregate_id = o.aggregate_id
                and e.id < o.id and e.published_at is null
                and (e.dead_at is not null or e.next_attempt_at is not null)
                and (e.dead_at is not null or e.next_attempt_at > now()))
     order by o.id
     limit ${limit}`
}

export async function previousMark(q: postgres.Sql, ids: number[]): Promise<void> {
  if (ids.length === 0) return
  await q`update outbox set published_at = now(), next_attempt_at = null
            where id = any(${ids}::bigint[])`
}

/** Claim, (acknowledged at once), mark, until a claim finds nothing; how many. */
export async function previousDrain(q: postgres.Sql, owned: number[], limit: number) {
  let n = 0
  for (;;) {
    const batch = await previousClaim(q, owned, limit)
    if (batch.length === 0) return n
    await previousMark(
      q,
      batch.map((m) => Number(m.id)),
    )
    n += batch.length
  }
}

/** Retention's batch before drizzle/0016: the published rows' next `limit`, deleted. */
export async function previousRetentionBatch(q: postgres.Sql, afterId: number, limit: number) {
  const rows = await q<{ id: string }[]>`
    delete from outbox
     where id in (
       select id from outbox
        where id > ${afterId} and id < ${Number.MAX_SAFE_INTEGER}
          and published_at < now() - ${0} * interval '1 millisecond'
        order by id
        limit ${limit}
          for update skip locked)
    returning id`
  return rows.map((r) => Number(r.id))
}
