-- The outbox refuses at the insert what the relay would publish wrongly (docs/outbox.md):
-- an empty aggregate_id (an empty Kafka key: every such event on one partition, ordered as if
-- one aggregate), an empty aggregate_type (routed to a topic like `.events` that nobody
-- creates, where its events wait) and a negative sequence (ce_sequence counts versions up). And each
-- writer may name itself: `source` is the event's ce_source, the relay's EVENT_SOURCE when null.
--
-- Numbered 0015: 0014 is taken by a migration written alongside this one.
--
-- Existing rows must satisfy the checks (adding them scans the table under ACCESS EXCLUSIVE,
-- as short as the outbox after retention). A row that does not would make the migration fail
-- halfway with Postgres's bare message; this says which rows and what to do first.
DO $$
DECLARE
  bad bigint;
BEGIN
  SELECT count(*) INTO bad FROM outbox
   WHERE aggregate_type = '' OR aggregate_id = '' OR sequence < 0;
  IF bad > 0 THEN
    RAISE EXCEPTION 'outbox has % row(s) with an empty aggregate_type or aggregate_id, or a negative sequence', bad
      USING HINT = 'publish or discard them and delete them (or correct them), then migrate again: '
                   || 'select id, event_id, aggregate_type, aggregate_id, sequence from outbox '
                   || 'where aggregate_type = '''' or aggregate_id = '''' or sequence < 0';
  END IF;
END
$$;
--> statement-breakpoint
ALTER TABLE "outbox"
  ADD COLUMN "source" text,
  ADD CONSTRAINT "outbox_aggregate_type_not_empty" CHECK ("outbox"."aggregate_type" <> ''),
  ADD CONSTRAINT "outbox_aggregate_id_not_empty" CHECK ("outbox"."aggregate_id" <> ''),
  ADD CONSTRAINT "outbox_sequence_not_negative" CHECK ("outbox"."sequence" >= 0),
  ADD CONSTRAINT "outbox_source_not_empty" CHECK ("outbox"."source" <> '');
