/**
 * The orders API's routes as declared for @hono/zod-openapi: each declaration both validates
 * requests and documents them in /openapi.json. The handlers are in routes.ts.
 */
import { createRoute } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { z } from 'zod'
import { fixed } from '../config/fixed'
import { AppError } from '../http/errors'
import { jsonBody } from '../http/json-body'
import { problemResponses, serverProblems } from '../http/openapi-schemas'
import {
  CancelOrderInput,
  OrderJson,
  orderStatuses,
  PlaceOrderInput,
  type Transition,
  transitions,
} from './order'
import { ordersRouteProblems } from './routes-problems'

/** The order in the OpenAPI document: the one shape (order.ts), named as a component. */
const OrderSchema = OrderJson.meta({ id: 'Order' })

const OrderPageSchema = z
  .object({
    items: z.array(OrderSchema),
    nextCursor: z
      .string()
      .nullable()
      .describe('Pass as `cursor` for the next page; null on the last page.'),
  })
  .meta({ id: 'OrderPage' })

const OrderIdParam = z.object({
  id: z
    .uuid('must be a UUID')
    .meta({ param: { name: 'id', in: 'path' }, example: '0b9b1f5e-3f8e-4c59-8d2b-0d1f2a3b4c5d' }),
})

const idempotencyKeyPattern = /^[\x21-\x7e]{1,255}$/
const idempotencyKeyRule = 'must be 1 to 255 visible ASCII characters'

/**
 * The optional Idempotency-Key header: documented as a plain OpenAPI parameter and checked by
 * `idempotencyKeyOf`, not declared as a zod `request.headers` schema, whose validator copies
 * every header of the request and parses them all on every write, for one optional header
 * (docs/benchmarks.md, "The API's hot path").
 */
const idempotencyKeyParameter = {
  name: 'Idempotency-Key',
  in: 'header' as const,
  required: false,
  description: `Makes a retry safe: the same key with the same request returns the original response and writes nothing; with a different request it is 422. Keys expire after ${fixed.idempotencyTtlMs / 3_600_000} hours.`,
  schema: { type: 'string' as const, pattern: idempotencyKeyPattern.source },
}

/** The request's Idempotency-Key, if any; a malformed one is a 400 naming the header. */
export function idempotencyKeyOf(c: Context): string | undefined {
  const key = c.req.header('idempotency-key')
  if (key === undefined || idempotencyKeyPattern.test(key)) return key
  const field = 'idempotency-key'
  throw new AppError('VALIDATION_FAILED', `${field}: ${idempotencyKeyRule}`, [
    { field, message: idempotencyKeyRule },
  ])
}

// A bearer API key when API_KEYS is set (reads too, unless API_PUBLIC_READS); the empty
// alternative: none needed otherwise.
const writeSecurity: Array<Record<string, string[]>> = [{ apiKey: [] }, {}]

const orderResponse = (status: 200 | 201, description: string) => ({
  [status]: {
    description,
    content: { 'application/json': { schema: OrderSchema } },
    headers: {
      ...(status === 201
        ? { Location: { schema: { type: 'string' as const }, description: 'The new order.' } }
        : {}),
      'Idempotent-Replayed': {
        schema: { type: 'string' as const, enum: ['true'] },
        description:
          'Present when this is the stored response of an earlier request with the same Idempotency-Key.',
      },
    },
  },
})

export const placeOrderRoute = createRoute({
  security: writeSecurity,
  method: 'post',
  path: '/',
  summary: 'Place an order',
  description:
    "Writes the order and its OrderCreated event in one transaction and answers at once; the relay publishes the event to Kafka after commit, so this works while Kafka is down. An order that would take its item's reserved stock past its limit is 409 (STOCK_LIMIT_EXCEEDED) and writes nothing.",
  middleware: [jsonBody()] as const,
  parameters: [idempotencyKeyParameter],
  request: {
    body: { required: true, content: { 'application/json': { schema: PlaceOrderInput } } },
  },
  responses: {
    ...orderResponse(201, 'Order placed.'),
    ...problemResponses(
      ordersRouteProblems,
      'VALIDATION_FAILED',
      'MALFORMED_JSON',
      'UNSUPPORTED_MEDIA_TYPE',
      'PAYLOAD_TOO_LARGE',
      'STOCK_LIMIT_EXCEEDED',
      'IDEMPOTENCY_KEY_REUSED',
      'UNAUTHORIZED',
      'RATE_LIMITED',
    ),
    ...serverProblems,
  },
})

export const listOrdersRoute = createRoute({
  security: writeSecurity,
  method: 'get',
  path: '/',
  summary: 'List orders, newest first',
  request: {
    query: z.object({
      limit: z.coerce
        .number({ error: 'must be a number' })
        .int('must be a whole number')
        .min(1, 'must be at least 1')
        .max(100, 'must be at most 100')
        .default(20),
      cursor: z.string().max(200).optional().describe('`nextCursor` of the previous page.'),
      status: z.enum(orderStatuses).optional(),
    }),
  },
  responses: {
    200: {
      description: 'A page of orders.',
      content: { 'application/json': { schema: OrderPageSchema } },
    },
    ...problemResponses(ordersRouteProblems, 'VALIDATION_FAILED'),
    ...serverProblems,
  },
})

export const getOrderRoute = createRoute({
  security: writeSecurity,
  method: 'get',
  path: '/{id}',
  summary: 'Get an order',
  request: { params: OrderIdParam },
  responses: {
    200: { description: 'The order.', content: { 'application/json': { schema: OrderSchema } } },
    ...problemResponses(ordersRouteProblems, 'VALIDATION_FAILED', 'ORDER_NOT_FOUND'),
    ...serverProblems,
  },
})

export const transitionRoute = (transition: Transition) =>
  createRoute({
    method: 'post',
    path: `/{id}/${transition}`,
    summary: `${transition[0]?.toUpperCase()}${transition.slice(1)} an order`,
    description: `Allowed from ${transitions[transition].from.join(' or ')}; writes ${transitions[transition].event} with the new version in the same transaction. Any other state is 409 and writes nothing.`,
    middleware: [jsonBody({ optional: true })] as const,
    security: writeSecurity,
    parameters: [idempotencyKeyParameter],
    request: {
      params: OrderIdParam,
      ...(transition === 'cancel'
        ? {
            body: {
              required: false,
              content: { 'application/json': { schema: CancelOrderInput } },
            },
          }
        : {}),
    },
    responses: {
      ...orderResponse(200, `The ${transitions[transition].to} order.`),
      ...problemResponses(
        ordersRouteProblems,
        'VALIDATION_FAILED',
        'MALFORMED_JSON',
        'UNSUPPORTED_MEDIA_TYPE',
        'PAYLOAD_TOO_LARGE',
        'ORDER_NOT_FOUND',
        'ORDER_STATE_CONFLICT',
        'IDEMPOTENCY_KEY_REUSED',
        'UNAUTHORIZED',
        'RATE_LIMITED',
      ),
      ...serverProblems,
    },
  })
