-- The view of what is not published (drizzle/0016, 0019) gains `held` (drizzle/0022), as its last
-- column (a view may only grow at the end; its grants stay). The relay's lag (src/outbox/stats.ts)
-- leaves held events out by it: read through outbox_parked_ready_idx, not one hold-back probe
-- per event piled up behind a dead letter, on every readiness probe.
CREATE OR REPLACE VIEW "outbox_unpublished" AS
SELECT o.id, o.event_id, o.event_type, o.aggregate_type, o.aggregate_id, o.topic, o.partition,
       o.occurred_at, 0 AS attempts, NULL::text AS last_error,
       NULL::timestamptz AS next_attempt_at, NULL::timestamptz AS dead_at, NULL::text AS failure,
       false AS held
  FROM outbox o, outbox_position p
 WHERE o.xid >= (SELECT min(pg_snapshot_xmin(s)) FROM outbox_position, unnest(snapshots) s)
   AND NOT pg_visible_in_snapshot(o.xid, p.snapshots[o.partition + 1])
   AND NOT coalesce(pg_visible_in_snapshot(o.xid, p.uptos[o.partition + 1])
                    AND o.id <= p.afters[o.partition + 1], false)
   AND NOT EXISTS (SELECT 1 FROM outbox_parked x WHERE x.id = o.id)
UNION ALL
SELECT o.id, o.event_id, o.event_type, o.aggregate_type, o.aggregate_id, o.topic, o.partition,
       o.occurred_at, x.attempts, x.last_error, x.next_attempt_at, x.dead_at, x.failure, x.held
  FROM outbox_parked x
  JOIN outbox o ON o.id = x.id
 WHERE x.published_at IS NULL;
