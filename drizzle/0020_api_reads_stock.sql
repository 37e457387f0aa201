-- The API refuses an order that would take its item's reserved stock past the limit the
-- consumer keeps (src/orders/place-order.ts reads inventory.stock in the order's own
-- statement). It may read the item and its reserved count, nothing else of the consumer's.
GRANT USAGE ON SCHEMA inventory TO outbox_api;
--> statement-breakpoint
GRANT SELECT (item, reserved) ON inventory.stock TO outbox_api;
