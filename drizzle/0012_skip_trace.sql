-- The doorbell trigger (0009), with a trace left by every writer that may skip its NOTIFY.
--
-- A writer first takes the partition's trace lock (780004, p) shared, then probes the awake lock
-- (780003, p) as before. It skips the NOTIFY only when it holds the trace lock and the probe
-- failed, i.e. while the partition's relay was awake. Both locks are transaction-level: they are
-- held until the writer commits or aborts. A relay going to sleep releases the awake lock and
-- then tries the trace lock exclusively, without waiting: success proves that every writer that
-- skipped has ended, and so is visible to the relay's next claim. src/relay/awake.ts gives the
-- whole argument.
--
-- CASE, not OR: its order of evaluation is defined. A trace lock that cannot be had (the relay
-- holds it for the instant of its check) means "ring": a NOTIFY too many costs only a wake-up.
DROP TRIGGER outbox_notify ON outbox;
--> statement-breakpoint
CREATE TRIGGER outbox_notify
AFTER INSERT ON outbox
FOR EACH ROW
WHEN (CASE WHEN pg_try_advisory_xact_lock_shared(780004, NEW.partition)
           THEN pg_try_advisory_xact_lock_shared(780003, NEW.partition)
           ELSE true END)
EXECUTE FUNCTION outbox_notify();
