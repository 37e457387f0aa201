/**
 * The orders feature's domain errors. They carry a code, never an HTTP status: the edge
 * (routes-problems.ts) maps codes to statuses and problem bodies.
 */
export type OrderErrorCode = 'ORDER_NOT_FOUND' | 'ORDER_STATE_CONFLICT' | 'STOCK_LIMIT_EXCEEDED'

export class OrderError extends Error {
  constructor(
    readonly code: OrderErrorCode,
    message: string,
    /** Extra members for the problem body, e.g. `currentStatus`, `item`. */
    readonly extensions?: Record<string, unknown>,
  ) {
    super(message)
    this.name = 'OrderError'
  }
}
