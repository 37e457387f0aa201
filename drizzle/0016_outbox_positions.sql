-- Publishing an event writes nothing in the outbox (issue 32; the argument is docs/design.md,
-- "Positions, not marks"). The outbox becomes insert-only for the relay:
--  - each row records the transaction that inserted it (`xid`, set by the partition trigger,
--    whatever the writer gives), so the relay can tell which rows became visible between two
--    snapshots;
--  - outbox_position: one row holding, per relay partition, the snapshot up to which the relay
--    has published that partition (every row whose xid is visible in it is published or
--    parked); each relay rewrites its partitions' entries at most about once a second, never
--    per event: one row version per write, however many partitions it carries;
--  - outbox_parked: the events taken out of that stream: failed (retry time, attempts, reason),
--    dead, waiting for their topic, or held behind one of those of their aggregate. Small, and
--    written only when something fails.
-- The writers' contract (docs/outbox.md) is unchanged: the same `insert into outbox (...)`.
--
-- On a populated outbox: no rewrite. The new column is nullable without a default (metadata
-- only); existing rows keep xid NULL, which the relay never claims: the unpublished ones (and
-- the dead and discarded ones, with their state) are copied into outbox_parked, from where they
-- are published in id order, holding back their aggregates' newer events until they are out.
-- The positions start at this migration's snapshot: it holds ACCESS EXCLUSIVE on outbox from
-- the first statement, so every transaction visible in that snapshot that wrote the outbox did
-- so before it (rows with xid NULL), and every later row's transaction is invisible in it.

ALTER TABLE "outbox" ADD COLUMN "xid" xid8;
--> statement-breakpoint
-- The partition trigger (drizzle/0013) sets the inserting transaction's id too.
CREATE OR REPLACE FUNCTION outbox_partition() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.partition := (hashtextextended(NEW.aggregate_type || '/' || NEW.aggregate_id, 0) & 63)::smallint;
  NEW.xid := pg_current_xact_id();
  RETURN NEW;
END;
$$;
--> statement-breakpoint
CREATE TABLE "outbox_parked" (
  "id" bigint PRIMARY KEY,
  "partition" smallint NOT NULL,
  "aggregate_type" text NOT NULL,
  "aggregate_id" text NOT NULL,
  "event_id" uuid NOT NULL,
  "attempts" integer DEFAULT 0 NOT NULL,
  "last_error" text,
  "next_attempt_at" timestamp with time zone,
  "dead_at" timestamp with time zone,
  "published_at" timestamp with time zone,
  "parked_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
-- Element p + 1 of each array is partition p's: `snapshots`, and part way through a window the
-- window's snapshot (`uptos`, else NULL) and the last id done in it (`afters`).
CREATE TABLE "outbox_position" (
  "id" smallint PRIMARY KEY DEFAULT 0 CHECK ("id" = 0),
  "snapshots" pg_snapshot[] NOT NULL,
  "uptos" pg_snapshot[] NOT NULL,
  "afters" bigint[] NOT NULL,
  "updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
INSERT INTO "outbox_parked" ("id", "partition", "aggregate_type", "aggregate_id", "event_id",
                             "attempts", "last_error", "next_attempt_at", "dead_at", "published_at")
SELECT "id", "partition", "aggregate_type", "aggregate_id", "event_id",
       "attempts", "last_error", "next_attempt_at", "dead_at", "published_at"
  FROM "outbox"
 WHERE "published_at" IS NULL OR "dead_at" IS NOT NULL;
--> statement-breakpoint
INSERT INTO "outbox_position" ("snapshots", "uptos", "afters")
SELECT array_agg(pg_current_snapshot()), array_agg(NULL::pg_snapshot), array_agg(0::bigint)
  FROM generate_series(0, 63);
--> statement-breakpoint
-- Metadata only. The partial indexes over these columns go with them.
ALTER TABLE "outbox"
  DROP COLUMN "published_at",
  DROP COLUMN "attempts",
  DROP COLUMN "last_error",
  DROP COLUMN "next_attempt_at",
  DROP COLUMN "dead_at";
--> statement-breakpoint
-- The relay finds the rows of a window by the transaction that wrote them. Writers maintain it
-- in place of outbox_ready_idx (gone with published_at): still three index entries per insert.
CREATE INDEX "outbox_xid_idx" ON "outbox" USING btree ("xid");
--> statement-breakpoint
-- The operator's tools find an event by its id. Not unique any more: a unique index would
-- refuse a writer reusing the id of an event published days ago, which the partial one allowed.
CREATE INDEX "outbox_event_id_idx" ON "outbox" USING btree ("event_id");
--> statement-breakpoint
-- "Has this aggregate an event parked and not yet out?": the hold-back. Normally empty.
CREATE INDEX "outbox_parked_open_idx" ON "outbox_parked" USING btree ("aggregate_type", "aggregate_id", "id") WHERE "published_at" IS NULL;
--> statement-breakpoint
-- Parked events the relay may publish again, in id order.
CREATE INDEX "outbox_parked_ready_idx" ON "outbox_parked" USING btree ("id") WHERE "published_at" IS NULL AND "dead_at" IS NULL;
--> statement-breakpoint
CREATE INDEX "outbox_parked_event_id_idx" ON "outbox_parked" USING btree ("event_id");
--> statement-breakpoint
-- What is not published yet, for metrics, the operator's status and tests: rows the stored
-- positions have not passed, and parked events not yet out. Reads the xid index from the oldest
-- position's xmin: proportional to what is unpublished (and to the last second's events).
CREATE VIEW "outbox_unpublished" AS
SELECT o.id, o.event_id, o.event_type, o.aggregate_type, o.aggregate_id, o.topic, o.partition,
       o.occurred_at, 0 AS attempts, NULL::text AS last_error,
       NULL::timestamptz AS next_attempt_at, NULL::timestamptz AS dead_at
  FROM outbox o, outbox_position p
 WHERE o.xid >= (SELECT min(pg_snapshot_xmin(s)) FROM outbox_position, unnest(snapshots) s)
   AND NOT pg_visible_in_snapshot(o.xid, p.snapshots[o.partition + 1])
   AND NOT coalesce(pg_visible_in_snapshot(o.xid, p.uptos[o.partition + 1])
                    AND o.id <= p.afters[o.partition + 1], false)
   AND NOT EXISTS (SELECT 1 FROM outbox_parked x WHERE x.id = o.id)
UNION ALL
SELECT o.id, o.event_id, o.event_type, o.aggregate_type, o.aggregate_id, o.topic, o.partition,
       o.occurred_at, x.attempts, x.last_error, x.next_attempt_at, x.dead_at
  FROM outbox_parked x
  JOIN outbox o ON o.id = x.id
 WHERE x.published_at IS NULL;
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON outbox_parked TO outbox_relay;
--> statement-breakpoint
GRANT SELECT, UPDATE ON outbox_position TO outbox_relay;
--> statement-breakpoint
GRANT SELECT ON outbox_unpublished TO outbox_relay;
