/**
 * The arrivals consumer, run in a worker thread (startConsumer in stack.ts): it fetches the
 * topic over and over (fetch-loop.ts says why not with kafkajs), timestamps each message's key
 * as it arrives, and posts the keys to the main thread.
 *
 * Why a thread of its own: the main thread sends the load and timestamps the HTTP responses. A
 * consumer on that thread delays those timestamps while it works, and a response timed late
 * shortens the latency measured from it. It also lets this thread pause between fetches
 * (Atomics.wait blocks only this thread) for less than the millisecond a timer can wait.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { nowMs } from './clock'
import { FetchLoop } from './fetch-loop'

export type ConsumerWorkerData = {
  broker: string
  topic: string
  partitions: number
  /** Pause after a fetch that found nothing, in ms (fractions allowed). */
  pauseMs: number
}
export type FromConsumer =
  | { type: 'ready' }
  | { type: 'arrived'; at: number; keys: string[] }
  | { type: 'stopped' }
  | { type: 'failed'; message: string }

const port = parentPort
if (!port) throw new Error('consumer-worker.ts runs as a worker thread')
const { broker, topic, partitions, pauseMs } = workerData as ConsumerWorkerData
const send = (m: FromConsumer) => port.postMessage(m)

let stopping = false
port.on('message', (m: { type: 'stop' }) => {
  if (m.type === 'stop') stopping = true
})
const pause = new Int32Array(new SharedArrayBuffer(4))
try {
  const loop = await FetchLoop.open(broker, topic, partitions)
  for (let first = true; !stopping; first = false) {
    const fetched = await loop.fetch()
    const at = nowMs()
    if (fetched.length > 0) send({ type: 'arrived', at, keys: fetched.flatMap((f) => f.keys) })
    if (first)
      send({ type: 'ready' }) // the topic answered: every arrival from here on is seen
    else if (fetched.length === 0 && pauseMs > 0) Atomics.wait(pause, 0, 0, pauseMs)
  }
  loop.close()
  send({ type: 'stopped' })
} catch (err) {
  send({ type: 'failed', message: (err as Error).message })
}
