/**
 * A kafkajs client (producer or admin) connected on first use: callers that arrive while it
 * connects share that one attempt, and a failed attempt is forgotten, so the next use tries
 * again. `close` drops it even while stuck: the next use builds a new one.
 */
type Client = { connect(): Promise<void>; disconnect(): Promise<void> }

export type LazyClient<C extends Client> = {
  get(): Promise<C>
  /** Forgets `client` if it is still the current one (it disconnected on its own). */
  forget(client: C): void
  /** Drops the client and disconnects it. */
  close(): Promise<void>
}

export function lazyClient<C extends Client>(
  create: () => C,
  onConnected?: (client: C) => void,
): LazyClient<C> {
  let current: C | undefined
  let connecting: Promise<C> | undefined
  return {
    get() {
      if (current) return Promise.resolve(current)
      connecting ??= (async () => {
        const client = create()
        try {
          await client.connect()
        } finally {
          connecting = undefined
        }
        onConnected?.(client)
        current = client
        return client
      })()
      return connecting
    },
    forget(client) {
      if (current === client) current = undefined
    },
    async close() {
      const client = current
      current = undefined
      connecting = undefined
      await client?.disconnect()
    },
  }
}
