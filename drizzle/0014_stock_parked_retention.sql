-- Hostile input and a long life (issue 36). Written by hand over drizzle-kit's output (the
-- snapshot beside it is generated): drizzle-kit adds the new primary key before the column it
-- names and cannot name the old one.

-- Stock counters: 64-bit, and never below 0 or above what a JavaScript number holds exactly.
-- The consumer refuses such a move itself (a parked message with its reason); this check is
-- the last line. Rewrites inventory.stock once (one row per item).
ALTER TABLE "inventory"."stock"
  ALTER COLUMN "reserved" SET DATA TYPE bigint,
  ALTER COLUMN "shipped" SET DATA TYPE bigint,
  ADD CONSTRAINT "stock_counts_range" CHECK ("inventory"."stock"."reserved" between 0 and 9007199254740991 and "inventory"."stock"."shipped" between 0 and 9007199254740991);
--> statement-breakpoint
-- Messages the consumer set aside after its retries (src/consumer/poison.ts).
CREATE TABLE "inventory"."parked_messages" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "inventory"."parked_messages_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"topic" text NOT NULL,
	"partition" integer NOT NULL,
	"offset" text NOT NULL,
	"event_id" uuid,
	"event_type" text,
	"order_id" uuid,
	"version" integer,
	"key" text,
	"headers" jsonb NOT NULL,
	"value" text,
	"reason" text NOT NULL,
	"attempts" integer NOT NULL,
	"parked_at" timestamp with time zone DEFAULT now() NOT NULL,
	"released_at" timestamp with time zone,
	"resolution" text
);
--> statement-breakpoint
CREATE INDEX "parked_messages_waiting_idx" ON "inventory"."parked_messages" USING btree ("parked_at") WHERE "inventory"."parked_messages"."released_at" is null;
--> statement-breakpoint
-- Retention of the inbox and order_versions (src/consumer/retention.ts): the consumer deletes
-- settled inbox rows and idle orders older than CONSUMER_RETENTION, and nothing else.
ALTER TABLE "inventory"."order_versions" ADD COLUMN "applied_at" timestamp with time zone DEFAULT now() NOT NULL;
--> statement-breakpoint
CREATE INDEX "order_versions_applied_at_idx" ON "inventory"."order_versions" USING btree ("applied_at");
--> statement-breakpoint
CREATE INDEX "inbox_settled_received_at_idx" ON "inventory"."inbox" USING btree ("received_at") WHERE "inventory"."inbox"."outcome" <> 'parked';
--> statement-breakpoint
GRANT DELETE ON "inventory"."inbox", "inventory"."order_versions" TO outbox_consumer;
--> statement-breakpoint
-- Idempotency keys are scoped to the client that sent them. Existing keys get client '' (no
-- client is that) and expire as before: a retry sent across the upgrade is not recognised as
-- one, so deploy it when clients are not retrying (or accept a possible duplicate then).
ALTER TABLE "idempotency_keys" ADD COLUMN "client" text DEFAULT '' NOT NULL;
--> statement-breakpoint
ALTER TABLE "idempotency_keys" DROP CONSTRAINT "idempotency_keys_pkey";
--> statement-breakpoint
ALTER TABLE "idempotency_keys" ADD CONSTRAINT "idempotency_keys_client_key_pk" PRIMARY KEY("client","key");
