/**
 * The orders feature's error codes as HTTP problems: the one place they get a status. The
 * domain (errors.ts) knows codes only; the HTTP layer knows its own codes only.
 */
import { httpProblems, type ProblemKind, problemOf, problemResponse } from '../http/problem'
import type { OrderError, OrderErrorCode } from './errors'

const orderProblems: Record<OrderErrorCode, ProblemKind> = {
  ORDER_NOT_FOUND: { status: 404, title: 'Order not found' },
  ORDER_STATE_CONFLICT: { status: 409, title: 'Order is not in a state that allows this' },
  STOCK_LIMIT_EXCEEDED: {
    status: 409,
    title: "The order would take its item's stock past its limit",
  },
}

/** Every code an orders route can answer with: the HTTP layer's and the feature's. */
export const ordersRouteProblems = { ...httpProblems, ...orderProblems }

/** An OrderError as its problem+json response (app.ts's error handler calls this). */
export function orderErrorResponse(err: OrderError): Response {
  return problemResponse(
    problemOf(err.code, orderProblems[err.code], err.message, undefined, err.extensions),
  )
}
