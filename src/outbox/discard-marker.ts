/**
 * The event written when an operator discards a dead-lettered event (admin.ts `discardDead`):
 * same aggregate, the discarded event's `sequence`, and its id in the data. It is published like
 * any other event, so a consumer that orders an aggregate's events by `ce_sequence` learns that
 * this version will never come and goes on with the next (docs/operations.md).
 */
export const DISCARD_MARKER_TYPE = 'EventDiscarded'

export type DiscardMarkerData = {
  discardedEventId: string
  discardedEventType: string
  /** The discarded event's sequence (null if it had none). */
  sequence: number | null
}
