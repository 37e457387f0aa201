-- The consumer never deletes (0006 granted DELETE too); and tables its schema gets later are
-- granted by default, so a new consumer table does not fail with "permission denied" at
-- runtime. Tables in `public` get no default grants on purpose: each new table must grant the
-- API or the relay exactly what they need, in its own migration.
REVOKE DELETE ON ALL TABLES IN SCHEMA inventory FROM outbox_consumer;
--> statement-breakpoint
ALTER DEFAULT PRIVILEGES IN SCHEMA inventory GRANT SELECT, INSERT, UPDATE ON TABLES TO outbox_consumer;
