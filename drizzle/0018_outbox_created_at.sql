-- When each row was written, by the database's clock, set by the partition trigger whatever the
-- writer gives. Retention measures age by it: occurred_at is the writer's (a business time, a
-- clock that runs ahead), and one row dated 30 days ahead stopped every retention pass at it.
-- Nullable without a default: metadata only on a populated outbox; older rows keep NULL and
-- retention falls back to their occurred_at.
ALTER TABLE "outbox" ADD COLUMN "created_at" timestamp with time zone;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION outbox_partition() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.partition := (hashtextextended(NEW.aggregate_type || '/' || NEW.aggregate_id, 0) & 63)::smallint;
  NEW.xid := pg_current_xact_id();
  NEW.created_at := now();
  RETURN NEW;
END;
$$;
