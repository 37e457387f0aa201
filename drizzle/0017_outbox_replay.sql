-- Replay (npm run outbox -- replay): a recorded run that publishes retained events again. A run
-- is a reader with its own position over the outbox, in id order: it copies nothing and marks
-- nothing in the outbox. `upto_id` is the outbox's highest id when the run was made: a run never
-- grows with live traffic. `after_id` is its position: every matching event up to it was sent
-- and acknowledged. Progress is written once per acknowledged batch.
CREATE TABLE "outbox_replay" (
  "id" serial PRIMARY KEY,
  "created_at" timestamp with time zone DEFAULT now() NOT NULL,
  "updated_at" timestamp with time zone DEFAULT now() NOT NULL,
  "filters" jsonb NOT NULL,
  "to_topic" text,
  "upto_id" bigint NOT NULL,
  "after_id" bigint DEFAULT 0 NOT NULL,
  "total" integer NOT NULL,
  "done" integer DEFAULT 0 NOT NULL,
  "done_by_topic" jsonb DEFAULT '{}'::jsonb NOT NULL,
  "status" text DEFAULT 'running' NOT NULL,
  CONSTRAINT "outbox_replay_status" CHECK ("status" in ('running', 'done', 'cancelled'))
);
--> statement-breakpoint
-- The relay reports each run's progress as metrics.
GRANT SELECT ON outbox_replay TO outbox_relay;
