DROP INDEX "outbox_unpublished_by_order_idx";--> statement-breakpoint
CREATE INDEX "outbox_blocked_by_order_idx" ON "outbox" USING btree ("aggregate_id","id") WHERE "outbox"."published_at" is null and ("outbox"."dead_at" is not null or "outbox"."next_attempt_at" is not null);--> statement-breakpoint
-- A queue table: every row is updated once (marked) and deleted later. Vacuum it after a
-- thousand dead rows rather than after 20% of the table, so the partial index of unpublished
-- rows does not fill up with dead entries between autovacuum runs.
ALTER TABLE "outbox" SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 10000);
