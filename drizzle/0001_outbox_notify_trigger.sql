-- The relay's doorbell. After any statement that inserts into the outbox, send one empty
-- NOTIFY on channel `outbox_events`. It is a latency hint only: the relay also drains on start,
-- after every (re)LISTEN and on its fallback poll, so a lost notification delays, never loses.
--
-- Statement-level, not row-level: a bulk insert rings once. The payload is empty because
-- identical notifications in one transaction are delivered once, and because a payload is
-- limited to 8,000 bytes: the event itself is always read from the table.
-- The notification is delivered at commit, never for a rolled-back transaction.
CREATE FUNCTION outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('outbox_events', '');
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER outbox_notify
AFTER INSERT ON outbox
FOR EACH STATEMENT
EXECUTE FUNCTION outbox_notify();
