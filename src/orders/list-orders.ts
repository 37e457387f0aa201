/** GET /orders: newest first, keyset-paginated, with an opaque cursor. */
import { and, desc, eq, lt, or } from 'drizzle-orm'
import { z } from 'zod'
import type { Db } from '../db/client'
import { orders } from '../db/schema'
import type { Order, OrderStatus } from './order'

/** A position in the newest-first listing: the last order of the previous page. */
export type Cursor = { createdAt: Date; id: string }

export function encodeCursor(order: Pick<Order, 'createdAt' | 'id'>): string {
  return Buffer.from(JSON.stringify([order.createdAt.toISOString(), order.id])).toString(
    'base64url',
  )
}

const CursorShape = z.tuple([
  z.iso.datetime().refine((at) => {
    const year = new Date(at).getUTCFullYear()
    return year >= 1970 && year <= 9999
  }),
  z.uuid(),
])

/** Undefined for anything that is not a cursor this service made. */
export function decodeCursor(cursor: string): Cursor | undefined {
  try {
    const parsed = CursorShape.safeParse(
      JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')),
    )
    return parsed.success ? { createdAt: new Date(parsed.data[0]), id: parsed.data[1] } : undefined
  } catch {
    return undefined
  }
}

/** Newest first, keyset-paginated on (created_at, id): stable while orders are being added. */
export async function listOrders(
  db: Db,
  query: { limit: number; after?: Cursor; status?: OrderStatus },
): Promise<{ items: Order[]; next?: Cursor }> {
  const rows = await db
    .select()
    .from(orders)
    .where(
      and(
        query.status ? eq(orders.status, query.status) : undefined,
        query.after
          ? or(
              lt(orders.createdAt, query.after.createdAt),
              and(eq(orders.createdAt, query.after.createdAt), lt(orders.id, query.after.id)),
            )
          : undefined,
      ),
    )
    .orderBy(desc(orders.createdAt), desc(orders.id))
    .limit(query.limit + 1)
  const items = rows.slice(0, query.limit)
  const last = items.at(-1)
  return { items, next: rows.length > query.limit && last ? last : undefined }
}
