-- Least privilege: one role per process, each allowed only what that process does.
-- The roles are NOLOGIN here; `npm run db:migrate` gives them LOGIN and a password when
-- DB_API_PASSWORD / DB_RELAY_PASSWORD / DB_CONSUMER_PASSWORD are set (compose.yaml does).
-- Roles are cluster-wide, so they are created only if missing. Needs CREATEROLE (the owner).
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'outbox_api') THEN
    CREATE ROLE outbox_api NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'outbox_relay') THEN
    CREATE ROLE outbox_relay NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'outbox_consumer') THEN
    CREATE ROLE outbox_consumer NOLOGIN;
  END IF;
END
$$;
--> statement-breakpoint
GRANT USAGE ON SCHEMA public TO outbox_api, outbox_relay;
--> statement-breakpoint
-- The API: places and moves orders, appends events, keeps idempotency keys. It can neither
-- read nor change events once written.
GRANT SELECT, INSERT, UPDATE ON orders TO outbox_api;
--> statement-breakpoint
GRANT INSERT ON outbox TO outbox_api;
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO outbox_api;
--> statement-breakpoint
-- The relay: claims, marks, dead-letters and (retention) deletes events. Nothing else.
GRANT SELECT, UPDATE, DELETE ON outbox TO outbox_relay;
--> statement-breakpoint
-- The example consumer: its own schema only.
GRANT USAGE ON SCHEMA inventory TO outbox_consumer;
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA inventory TO outbox_consumer;
