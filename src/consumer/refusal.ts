/**
 * A domain rule of the inventory refused an event (not a failure of the database): handling it
 * again gives the same answer, so the consumer parks it at once instead of retrying.
 */
export type RefusalCode = 'STOCK_OUT_OF_RANGE'

export class InventoryRefusal extends Error {
  constructor(
    readonly code: RefusalCode,
    message: string,
  ) {
    super(message)
    this.name = 'InventoryRefusal'
  }
}
