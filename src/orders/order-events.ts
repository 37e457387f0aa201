/** The orders feature's events (src/events/contract.ts), written as aggregate type `orders`. */
import { eventContract } from '../events/contract'
import { defineEvents } from '../outbox'

export const ORDERS_AGGREGATE_TYPE = 'orders'

export const orderEvents = defineEvents(ORDERS_AGGREGATE_TYPE, eventContract)
