-- The adaptive doorbell: NOTIFY only when the relay that owns the row's partition is asleep.
--
-- Why: at commit a notifying transaction takes a database-wide lock and holds it through the
-- WAL flush, so a NOTIFY per write serialises commits and roughly halves write throughput under
-- concurrency. Under load the relay is awake and draining anyway and needs no bell.
--
-- How: a relay that is awake holds the session advisory lock (780003, partition) exclusively
-- for every partition it owns. A writer tries to take the same lock shared, without waiting:
--   * it fails  -> the owner is awake; skip the NOTIFY (cost: one failed lock probe);
--   * it works  -> the owner is asleep (or there is none); NOTIFY. The shared lock is held to
--                  the end of this transaction, so a relay waking up waits for this commit.
-- A writer that skipped the NOTIFY did so while the relay held (or was queued for) the lock,
-- i.e. before the relay let go of it; the relay's go-to-sleep protocol waits for every
-- transaction in progress at that moment and drains once more (src/relay/awake.ts), so such a
-- row never waits for the fallback poll. Relays in `notify` mode never hold the lock (so every
-- write rings); in `poll` mode they hold it for good (so no write rings).
--
-- Row-level so the lock is keyed by the row's partition; the notifications of one transaction
-- are identical (empty payload) and Postgres delivers them once.
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF pg_try_advisory_xact_lock_shared(780003, NEW.partition) THEN
    PERFORM pg_notify('outbox_events', '');
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
DROP TRIGGER outbox_notify ON outbox;
--> statement-breakpoint
CREATE TRIGGER outbox_notify
AFTER INSERT ON outbox
FOR EACH ROW
EXECUTE FUNCTION outbox_notify();
