/**
 * Every HTTP listener of this service (the API, the relay's and the consumer's metrics) starts
 * here, so each refuses a port in use the same way: one line naming the setting that moves it.
 */
import { serve } from '@hono/node-server'

/** The port is taken; `setting` is the one that chooses it (PORT or METRICS_PORT). */
export class PortInUse extends Error {
  override name = 'PortInUse'
  constructor(
    readonly setting: string,
    readonly port: number,
  ) {
    super(`${setting} ${port} is in use; set ${setting}=<a free port>, e.g. ${setting}=${port + 1}`)
  }
}

export type Listening = { port: number; close(): Promise<void> }

/**
 * Serves `fetch` on `port` (0: any free one, reported back) and `hostname` (undefined: every
 * interface); resolves once it listens.
 */
export async function listen(
  fetch: Parameters<typeof serve>[0]['fetch'],
  { port, hostname, setting }: { port: number; hostname?: string; setting: string },
): Promise<Listening> {
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch, port, ...(hostname ? { hostname } : {}) }, () => resolve(s))
    s.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new PortInUse(setting, port) : err),
    )
  })
  const address = server.address()
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
