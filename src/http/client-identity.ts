/**
 * Who a request comes from, decided once per request and kept as `client` in the context: a
 * valid API key (`key:<id>`), else the client's address (`addr:<ip>`). The rate limiter counts
 * against it and idempotency keys are scoped by it.
 *
 * The address is the socket's, unless the socket is one of TRUSTED_PROXIES: then the
 * X-Forwarded-For chain is read from the right, skipping trusted proxies, and the first address
 * that is not one is the client (anything left of it was written by the client itself and
 * proves nothing). Without the setting, X-Forwarded-For is ignored: anyone could send it.
 */
import { BlockList, isIP } from 'node:net'
import { getConnInfo } from '@hono/node-server/conninfo'
import type { Context, MiddlewareHandler } from 'hono'
import type { ApiKeys } from './guards'

export function trustedProxyList(entries: readonly string[]): BlockList {
  const list = new BlockList()
  for (const entry of entries) {
    const [address = '', bits] = entry.split('/')
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4'
    if (bits === undefined) list.addAddress(address, type)
    else list.addSubnet(address, Number(bits), type)
  }
  return list
}

const familyOf = (address: string) => (isIP(address) === 6 ? 'ipv6' : 'ipv4')

function socketAddress(c: Context): string | undefined {
  try {
    return getConnInfo(c).remote.address
  } catch {
    return undefined // not behind @hono/node-server (e.g. app.request in tests)
  }
}

/** The client's address, through trusted proxies only. */
export function clientAddress(c: Context, trusted: BlockList | undefined): string | undefined {
  const socket = socketAddress(c)
  if (!trusted || !socket || !trusted.check(socket, familyOf(socket))) return socket
  const forwarded = (c.req.header('x-forwarded-for') ?? '')
    .split(',')
    .map((a) => a.trim())
    .filter((a) => isIP(a) !== 0)
  for (let i = forwarded.length - 1; i >= 0; i--) {
    const hop = forwarded[i] ?? ''
    if (!trusted.check(hop, familyOf(hop))) return hop
  }
  return forwarded[0] ?? socket
}

export type ClientVars = { client: string }

export function clientIdentity(
  keys: ApiKeys,
  trustedProxies: readonly string[],
): MiddlewareHandler<{ Variables: ClientVars }> {
  const trusted = trustedProxies.length > 0 ? trustedProxyList(trustedProxies) : undefined
  return async (c, next) => {
    const id = keys.enabled ? keys.accept(c) : undefined
    c.set('client', id ? `key:${id}` : `addr:${clientAddress(c, trusted) ?? 'unknown'}`)
    return next()
  }
}
