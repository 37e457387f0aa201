-- Why an event is parked, as a code the relay writes when it classifies the failure
-- (src/relay/classify-error.ts): the operator's tools, the status and the metrics read it
-- instead of matching the text of last_error, which stays the human-readable reason.
--   unavailable, retriable, permanent, missing-topic: the failure class of its last attempt;
--   NULL: not failed itself, held behind an earlier parked event of its aggregate.
-- Nullable without a default: metadata only on a populated table.
ALTER TABLE "outbox_parked" ADD COLUMN "failure" text;
--> statement-breakpoint
ALTER TABLE "outbox_parked" ADD CONSTRAINT "outbox_parked_failure_check"
  CHECK ("failure" IN ('unavailable', 'retriable', 'permanent', 'missing-topic')) NOT VALID;
--> statement-breakpoint
-- Existing rows, from the reason the relay wrote: a missing topic and a dead-lettering say so in
-- the text (an operator's discard keeps the old reason after '; was: '); any other recorded
-- failure that counted an attempt was retriable, one that did not, the broker unreachable.
UPDATE "outbox_parked"
   SET "failure" = CASE
         WHEN "last_error" LIKE 'MissingTopicError%'
           OR "last_error" LIKE 'discarded by operator at %; was: MissingTopicError%'
           THEN 'missing-topic'
         WHEN "last_error" LIKE 'permanent:%'
           OR "last_error" LIKE 'discarded by operator at %; was: permanent:%'
           THEN 'permanent'
         WHEN "last_error" LIKE 'held behind %' THEN NULL
         WHEN "attempts" > 0 THEN 'retriable'
         ELSE 'unavailable'
       END
 WHERE "last_error" IS NOT NULL;
--> statement-breakpoint
ALTER TABLE "outbox_parked" VALIDATE CONSTRAINT "outbox_parked_failure_check";
--> statement-breakpoint
-- The view of what is not published (drizzle/0016) gains the code, as its last column (a view
-- may only grow at the end; its grants stay).
CREATE OR REPLACE VIEW "outbox_unpublished" AS
SELECT o.id, o.event_id, o.event_type, o.aggregate_type, o.aggregate_id, o.topic, o.partition,
       o.occurred_at, 0 AS attempts, NULL::text AS last_error,
       NULL::timestamptz AS next_attempt_at, NULL::timestamptz AS dead_at, NULL::text AS failure
  FROM outbox o, outbox_position p
 WHERE o.xid >= (SELECT min(pg_snapshot_xmin(s)) FROM outbox_position, unnest(snapshots) s)
   AND NOT pg_visible_in_snapshot(o.xid, p.snapshots[o.partition + 1])
   AND NOT coalesce(pg_visible_in_snapshot(o.xid, p.uptos[o.partition + 1])
                    AND o.id <= p.afters[o.partition + 1], false)
   AND NOT EXISTS (SELECT 1 FROM outbox_parked x WHERE x.id = o.id)
UNION ALL
SELECT o.id, o.event_id, o.event_type, o.aggregate_type, o.aggregate_id, o.topic, o.partition,
       o.occurred_at, x.attempts, x.last_error, x.next_attempt_at, x.dead_at, x.failure
  FROM outbox_parked x
  JOIN outbox o ON o.id = x.id
 WHERE x.published_at IS NULL;
