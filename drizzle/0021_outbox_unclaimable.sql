-- Rows the relay can never claim: written with the outbox's trigger off
-- (`session_replication_role = replica`, a logical-replication apply, a restore with
-- --disable-triggers) they have no `xid`, and the relay reads rows by the transaction that wrote
-- them. `npm run outbox -- status` and the gauge outbox_unclaimable_events count them through
-- this index: it holds only rows without an xid (those kept from before 0016, and such loads),
-- so a write with the trigger on never touches it.
CREATE INDEX "outbox_no_xid_idx" ON "outbox" USING btree ("id") WHERE "xid" IS NULL;
