/**
 * Idempotency-Key (draft-ietf-httpapi-idempotency-key-header) for POST requests.
 *
 * The key is claimed and its response stored in the same transaction as the change it guards.
 * A client that retries after a timeout, a dropped connection or a crash of this service gets
 * the original response back (`Idempotent-Replayed: true`) and nothing new is written, because
 * either the first attempt committed (key and order together) or it did not (neither).
 * Two concurrent requests with one key serialize on the key's primary key: the second waits
 * for the first to commit or roll back, then replays or runs.
 *
 * Only successful responses are stored: a request refused with a 4xx wrote nothing, so
 * repeating it repeats the same check. The same key with a different request is 422.
 */
import { createHash } from 'node:crypto'
import { and, eq, gt, lte, sql } from 'drizzle-orm'
import type { Db, Executor, Tx } from '../db/client'
import { idempotencyKeys } from '../db/schema'
import { AppError } from './errors'

export type StoredResponse = { status: 200 | 201; body: unknown; location?: string }
export type IdempotencyOptions = { ttlMs: number; clock: () => Date }

/**
 * What makes two requests "the same request": the client (`key:<API key id>`, or
 * `addr:<address>` without API keys: see client-identity.ts), method, path and the validated
 * body. Keys are scoped to the client: two clients using one key each get their own record, so
 * neither can block or replay the other's.
 */
export type RequestIdentity = {
  client: string
  method: string
  path: string
  input: unknown
}

export function fingerprint({ client, method, path, input }: RequestIdentity): string {
  return createHash('sha256')
    .update(`${client} ${method} ${path}\n${JSON.stringify(input ?? null)}`)
    .digest('base64url')
}

/**
 * Runs `work`, guarded by `key` when there is one: then inside the transaction that stores the
 * key and the response. Returns the response to send and whether it is a replay. Without a key
 * nothing is hashed or stored: the common case costs nothing here.
 */
export async function runIdempotent(
  db: Db,
  key: string | undefined,
  request: RequestIdentity,
  options: IdempotencyOptions,
  /** Gets the database without a key, the key's transaction with one: it must be atomic itself. */
  work: (executor: Executor) => Promise<StoredResponse>,
): Promise<StoredResponse & { replayed: boolean }> {
  if (key === undefined) {
    return { ...(await work(db)), replayed: false }
  }
  const claim: Claim = { client: request.client, key, fingerprint: fingerprint(request) }
  return db.transaction(async (tx) => {
    const now = options.clock()
    if (!(await claimKey(tx, claim, now, options.ttlMs))) return replay(tx, claim, now)
    const response = await work(tx)
    await tx
      .update(idempotencyKeys)
      .set({ status: response.status, body: response.body, location: response.location ?? null })
      .where(and(eq(idempotencyKeys.client, claim.client), eq(idempotencyKeys.key, key)))
    return { ...response, replayed: false }
  })
}

type Claim = { client: string; key: string; fingerprint: string }

/**
 * Claims the key, or takes over an expired claim; false when a live one holds it. Blocks while
 * another transaction holds it.
 */
async function claimKey(tx: Tx, claim: Claim, now: Date, ttlMs: number): Promise<boolean> {
  const expiresAt = new Date(now.getTime() + ttlMs)
  const claimed = await tx
    .insert(idempotencyKeys)
    .values({ ...claim, status: 0, body: null, createdAt: now, expiresAt })
    .onConflictDoUpdate({
      target: [idempotencyKeys.client, idempotencyKeys.key],
      set: { fingerprint: claim.fingerprint, createdAt: now, expiresAt, location: null },
      setWhere: lte(idempotencyKeys.expiresAt, now),
    })
    .returning({ key: idempotencyKeys.key })
  return claimed.length > 0
}

/** The stored response of the request that holds the key; 422 if this is a different request. */
async function replay(tx: Tx, claim: Claim, now: Date) {
  const [stored] = await tx
    .select()
    .from(idempotencyKeys)
    .where(
      and(
        eq(idempotencyKeys.client, claim.client),
        eq(idempotencyKeys.key, claim.key),
        gt(idempotencyKeys.expiresAt, now),
      ),
    )
  if (!stored) throw new Error(`idempotency key ${claim.key} vanished while held`)
  if (stored.fingerprint !== claim.fingerprint) {
    throw new AppError(
      'IDEMPOTENCY_KEY_REUSED',
      'This Idempotency-Key was already used with a different request; use a new key for a new request.',
    )
  }
  return {
    status: stored.status as StoredResponse['status'],
    body: stored.body,
    ...(stored.location ? { location: stored.location } : {}),
    replayed: true,
  }
}

const PURGE_BATCH = 10_000
/** One pass stops after this many batches, however much is left: the next pass goes on. */
const PURGE_MAX_BATCHES = 100

/**
 * Deletes expired keys in batches until none is left (or a pass's cap): a pass keeps up with
 * any write rate, and each batch is its own short statement, so no lock is held for long.
 */
export async function purgeExpiredKeys(db: Db, now: Date): Promise<number> {
  let total = 0
  for (let i = 0; i < PURGE_MAX_BATCHES; i++) {
    const deleted = await db.execute(sql`
      delete from ${idempotencyKeys} where ctid = any(array(
        select ctid from ${idempotencyKeys}
         where ${idempotencyKeys.expiresAt} <= ${now.toISOString()} limit ${PURGE_BATCH}))`)
    const n = deleted.count ?? 0
    total += n
    if (n < PURGE_BATCH) break
  }
  return total
}
