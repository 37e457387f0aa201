-- The claim's index holds only the rows it may claim: unpublished and not dead.
--
-- Before, it held every unpublished row. That index also answers the claim's hold-back probe
-- ("has this order an earlier event dead or waiting?"), which is meant for the tiny
-- outbox_blocked_by_order_idx. The statistics of a relay that keeps up say "nothing
-- unpublished" (autovacuum analyzes the outbox between its batches), so both indexes look
-- empty, and the planner may pick the wrong one: then every candidate of a claim walked the
-- whole backlog. Measured after a burst: 1.8 s per claim with 3,350 events waiting, 12 million
-- index entries read to claim 3,000 of a 5,000 backlog (test/relay/query-plans.test.ts), and a
-- drain that slows down as the square of the backlog, exactly when a broker outage has left
-- one. Dead rows are out of this index, so the probe, which asks about dead rows too, cannot
-- use it. Dead rows are found through outbox_blocked_by_order_idx.
--
-- Migrations run in one transaction, so this build cannot be CONCURRENTLY: it holds off inserts
-- while it reads the outbox. On a large outbox, build it first, outside, and this step skips:
--   CREATE INDEX CONCURRENTLY IF NOT EXISTS outbox_ready_idx ON outbox (id)
--     WHERE published_at IS NULL AND dead_at IS NULL;
CREATE INDEX IF NOT EXISTS "outbox_ready_idx" ON "outbox" USING btree ("id") WHERE "outbox"."published_at" is null and "outbox"."dead_at" is null;--> statement-breakpoint
DROP INDEX IF EXISTS "outbox_unpublished_idx";
