-- The outbox as a contract any service writes with plain SQL (docs/outbox.md):
--   insert into outbox (aggregate_type, aggregate_id, event_type, payload) values (...)
-- aggregate_type names the topic (KAFKA_TOPIC_TEMPLATE), aggregate_id is any text key, headers
-- and topic are optional, sequence is optional, event_id and occurred_at have defaults.
--
-- The partition is hashed from aggregate type and id, set at insert by a BEFORE INSERT trigger
-- (outbox_partition, below) instead of a stored generated column: Postgres recomputes a
-- generated column on every UPDATE, and the relay's marks are updates. Measured side by side on
-- one embedded Postgres 18: marking 50,000 rows published took 734-737 ms with the generated
-- column, 299-320 ms with the trigger; inserts the same within noise (407-458 us a row either
-- way, 100,000 in one statement 1,543-1,555 ms vs 1,584-1,632 ms).
--
-- Written by hand over drizzle-kit's output (the snapshot beside it is generated): drizzle-kit
-- orders the statements so that they cannot run. The old partition is a generated column over
-- aggregate_id, and the doorbell trigger (0012) reads it, so the column type cannot change while
-- they exist, and the new partition needs aggregate_type to exist first.
--
-- On a populated outbox: one ALTER TABLE rewrites the table once (uuid -> text is not
-- binary-compatible, and the partition is computed for every row as a generated column, which
-- then becomes a plain one), holding ACCESS EXCLUSIVE on the outbox
-- for the whole migration: writers and the relay wait. Measured in docs/outbox.md (1,000,000
-- rows). Existing rows become aggregate type 'orders'. Unpublished rows stay unpublished and are
-- delivered after it; their partition changes, which is harmless: partitions are owned, not
-- stored anywhere else.

-- The trigger reads NEW.partition: it goes while the column is replaced and comes back below
-- exactly as 0012 made it, and in the state it was in (db:migrate disables it for poll relays;
-- dropped by hand, it stays dropped).
DO $$
DECLARE
  state "char";
BEGIN
  SELECT tgenabled INTO state FROM pg_trigger
   WHERE tgname = 'outbox_notify' AND tgrelid = 'outbox'::regclass;
  PERFORM set_config('outbox.migration_trigger', coalesce(state::text, 'missing'), true);
  DROP TRIGGER IF EXISTS outbox_notify ON outbox;
END
$$;
--> statement-breakpoint
-- Its replacement keys on both aggregate columns; dropped first so the rewrite does not rebuild it.
DROP INDEX IF EXISTS "outbox_blocked_by_order_idx";
--> statement-breakpoint
-- One statement, one rewrite. The DEFAULT 'orders' fills the existing rows, and keeps writers of
-- the previous release (which do not name the column) working while a deploy rolls.
ALTER TABLE "outbox"
  DROP COLUMN "partition",
  ALTER COLUMN "aggregate_id" SET DATA TYPE text,
  ADD COLUMN "aggregate_type" text DEFAULT 'orders' NOT NULL,
  ADD COLUMN "headers" jsonb,
  ADD COLUMN "topic" text,
  ADD COLUMN "partition" smallint
    GENERATED ALWAYS AS ((hashtextextended(aggregate_type || '/' || aggregate_id, 0) & 63)::smallint) STORED NOT NULL,
  ADD CONSTRAINT "outbox_headers_strings" CHECK ("headers" is null or (jsonb_typeof("headers") = 'object' and not jsonb_path_exists("headers", '$.* ? (@.type() != "string")'))),
  ALTER COLUMN "event_id" SET DEFAULT gen_random_uuid(),
  ALTER COLUMN "occurred_at" SET DEFAULT now(),
  ALTER COLUMN "sequence" DROP DEFAULT,
  ALTER COLUMN "sequence" DROP NOT NULL;
--> statement-breakpoint
-- The values stay; from now on the trigger below sets them (no rewrite: metadata only).
ALTER TABLE "outbox" ALTER COLUMN "partition" DROP EXPRESSION;
--> statement-breakpoint
ALTER TABLE "outbox" ALTER COLUMN "partition" SET DEFAULT 0;
--> statement-breakpoint
-- Whatever a writer puts in `partition`, the hash wins: one aggregate, one partition, always.
-- BEFORE INSERT, so the doorbell trigger (AFTER INSERT, reading NEW.partition) sees the final value.
CREATE FUNCTION outbox_partition() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.partition := (hashtextextended(NEW.aggregate_type || '/' || NEW.aggregate_id, 0) & 63)::smallint;
  RETURN NEW;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER outbox_partition
BEFORE INSERT ON outbox
FOR EACH ROW
EXECUTE FUNCTION outbox_partition();
--> statement-breakpoint
-- Only dead or deferred rows are in it (normally none): built after the rewrite, it reads the
-- table once more but writes almost nothing.
CREATE INDEX "outbox_blocked_by_aggregate_idx" ON "outbox" USING btree ("aggregate_type","aggregate_id","id") WHERE "outbox"."published_at" is null and ("outbox"."dead_at" is not null or "outbox"."next_attempt_at" is not null);
--> statement-breakpoint
DO $$
DECLARE
  state text := current_setting('outbox.migration_trigger');
BEGIN
  IF state = 'missing' THEN
    RETURN;
  END IF;
  CREATE TRIGGER outbox_notify
  AFTER INSERT ON outbox
  FOR EACH ROW
  WHEN (CASE WHEN pg_try_advisory_xact_lock_shared(780004, NEW.partition)
             THEN pg_try_advisory_xact_lock_shared(780003, NEW.partition)
             ELSE true END)
  EXECUTE FUNCTION outbox_notify();
  IF state = 'D' THEN
    ALTER TABLE outbox DISABLE TRIGGER outbox_notify;
  END IF;
END
$$;
--> statement-breakpoint
-- The example inventory consumer is a producer too now (its saga step writes StockReserved and
-- StockReleased through the outbox): it may append events, and nothing else there.
GRANT USAGE ON SCHEMA public TO outbox_consumer;
--> statement-breakpoint
GRANT INSERT ON outbox TO outbox_consumer;
