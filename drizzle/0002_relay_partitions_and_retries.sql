ALTER TABLE "outbox" ADD COLUMN "partition" smallint GENERATED ALWAYS AS ((hashtextextended(aggregate_id::text, 0) & 63)::smallint) STORED NOT NULL;--> statement-breakpoint
ALTER TABLE "outbox" ADD COLUMN "next_attempt_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "outbox" ADD COLUMN "dead_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "outbox_unpublished_by_order_idx" ON "outbox" USING btree ("aggregate_id","id") WHERE "outbox"."published_at" is null;