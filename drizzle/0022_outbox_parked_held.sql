-- Held back, explicitly: an event parked only because an earlier event of its aggregate is
-- parked waits with `held` set, outside the index of parked events the relay may claim. Behind a
-- dead letter that stays for hours, its aggregate's later events pile up there, and every claim
-- walked them all in id order to find each still held back (src/outbox/held.ts releases them
-- when what held them is out). Not null with a constant default: no rewrite of the table. The
-- indexes below are built under the migration's lock on outbox_parked, which holds only failures
-- and is small unless dead letters piled up: meanwhile the relay's claims wait, and back off after
-- their lock_timeout.
ALTER TABLE "outbox_parked" ADD COLUMN "held" boolean DEFAULT false NOT NULL;
--> statement-breakpoint
-- Failed events not yet out, by aggregate: what holds an aggregate back (dead, or a retry time).
CREATE INDEX "outbox_parked_blocking_idx" ON "outbox_parked" USING btree ("aggregate_type", "aggregate_id", "id") WHERE "published_at" IS NULL AND ("dead_at" IS NOT NULL OR "next_attempt_at" IS NOT NULL);
--> statement-breakpoint
-- Held events by aggregate, for their release.
CREATE INDEX "outbox_parked_held_idx" ON "outbox_parked" USING btree ("aggregate_type", "aggregate_id", "id") WHERE "held" AND "published_at" IS NULL;
--> statement-breakpoint
-- Events parked before this migration that are held back now (behind a dead or deferred event
-- of their aggregate): held. Those whose blocker is out stay claimable.
UPDATE "outbox_parked" x SET "held" = true
 WHERE x."published_at" IS NULL AND x."dead_at" IS NULL AND x."failure" IS NULL
   AND x."next_attempt_at" IS NULL
   AND EXISTS (SELECT 1 FROM "outbox_parked" e
                WHERE e."aggregate_type" = x."aggregate_type" AND e."aggregate_id" = x."aggregate_id"
                  AND e."id" < x."id" AND e."published_at" IS NULL
                  AND (e."dead_at" IS NOT NULL OR e."next_attempt_at" IS NOT NULL));
--> statement-breakpoint
DROP INDEX "outbox_parked_ready_idx";
--> statement-breakpoint
-- Parked events the relay may publish again, in id order: held ones are not among them.
CREATE INDEX "outbox_parked_ready_idx" ON "outbox_parked" USING btree ("id") WHERE "published_at" IS NULL AND "dead_at" IS NULL AND NOT "held";
