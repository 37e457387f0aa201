/**
 * A bare Kafka fetch loop for timing arrivals: Fetch v4 over one socket, every partition of one
 * topic on one broker, from offset 0, keys only. Used by the benchmark's consumer thread
 * (consumer-worker.ts), and nowhere else: a real consumer belongs to a client library.
 *
 * Why not kafkajs's consumer: the development broker (librdkafka's mock) holds a fetch that
 * finds nothing for the whole max wait, even when a message lands meanwhile
 * (rd_kafka_mock_handle_Fetch); a real broker answers at once. So a consumer that waits there
 * adds up to its wait to every latency measured, and one that does not wait spins. kafkajs
 * spends 160-250 us of CPU per fetch with the broker's share (measured): a spinning kafkajs
 * consumer took a whole core of the two, and with a 1 ms wait it still added about 1 ms to the
 * event latency median. This loop asks with no wait and pauses a fraction of a millisecond after
 * an empty answer, at a small CPU cost per fetch.
 *
 * Limits, checked rather than assumed: one broker leading every partition (the benchmark's
 * mock has one), uncompressed record batches (the relay sends none compressed), no errors.
 */
import { connect, type Socket } from 'node:net'

const FETCH = 1
const VERSION = 4
const CLIENT_ID = 'bench-fetch'

export type Fetched = { partition: number; keys: string[] }

export class FetchLoop {
  private readonly socket: Socket
  private readonly offsets: bigint[]
  private correlation = 0
  private pending: Buffer[] = []
  private pendingBytes = 0
  private waiting?: { resolve: (b: Buffer) => void; reject: (e: Error) => void }
  private failed?: Error

  private constructor(
    socket: Socket,
    private readonly topic: string,
    partitions: number,
  ) {
    this.socket = socket
    this.offsets = Array.from({ length: partitions }, () => 0n)
    socket.setNoDelay(true)
    socket.on('data', (chunk) => this.onData(chunk))
    const fail = (err: Error) => {
      this.failed = err
      this.waiting?.reject(err)
      this.waiting = undefined
    }
    socket.on('error', fail)
    socket.on('close', () => fail(new Error('fetch loop: connection closed')))
  }

  static async open(broker: string, topic: string, partitions: number): Promise<FetchLoop> {
    const [host, port] = broker.split(':')
    const socket = connect({ host, port: Number(port) })
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    return new FetchLoop(socket, topic, partitions)
  }

  /** One fetch with no wait: the keys of every message past what was fetched before. */
  async fetch(maxWaitMs = 0): Promise<Fetched[]> {
    const response = await this.request(this.encodeFetch(maxWaitMs))
    return this.decodeFetch(response)
  }

  close(): void {
    this.socket.destroy()
  }

  private request(body: Buffer): Promise<Buffer> {
    if (this.failed) return Promise.reject(this.failed)
    if (this.waiting) return Promise.reject(new Error('fetch loop: one request at a time'))
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject }
      this.socket.write(body)
    })
  }

  private onData(chunk: Buffer): void {
    this.pending.push(chunk)
    this.pendingBytes += chunk.length
    if (this.pendingBytes < 4) return
    const buf = this.pending.length === 1 ? chunk : Buffer.concat(this.pending)
    const size = buf.readInt32BE(0)
    if (buf.length < 4 + size) {
      this.pending = [buf]
      return
    }
    if (buf.length > 4 + size) {
      this.failed = new Error('fetch loop: unexpected bytes after a response')
      this.waiting?.reject(this.failed)
      this.waiting = undefined
      return
    }
    this.pending = []
    this.pendingBytes = 0
    const waiting = this.waiting
    this.waiting = undefined
    waiting?.resolve(buf.subarray(4))
  }

  private encodeFetch(maxWaitMs: number): Buffer {
    const topic = Buffer.from(this.topic)
    const client = Buffer.from(CLIENT_ID)
    const n = this.offsets.length
    const size =
      2 + 2 + 4 + 2 + client.length + 4 + 4 + 4 + 4 + 1 + 4 + 2 + topic.length + 4 + n * 16
    const b = Buffer.alloc(4 + size)
    let o = b.writeInt32BE(size, 0)
    o = b.writeInt16BE(FETCH, o)
    o = b.writeInt16BE(VERSION, o)
    o = b.writeInt32BE(++this.correlation, o)
    o = b.writeInt16BE(client.length, o)
    o += client.copy(b, o)
    o = b.writeInt32BE(-1, o) // replica id: a consumer
    o = b.writeInt32BE(maxWaitMs, o)
    o = b.writeInt32BE(1, o) // min bytes
    o = b.writeInt32BE(16 << 20, o) // max bytes
    o = b.writeInt8(0, o) // read uncommitted
    o = b.writeInt32BE(1, o) // one topic
    o = b.writeInt16BE(topic.length, o)
    o += topic.copy(b, o)
    o = b.writeInt32BE(n, o)
    for (let p = 0; p < n; p++) {
      o = b.writeInt32BE(p, o)
      o = b.writeBigInt64BE(this.offsets[p] ?? 0n, o)
      o = b.writeInt32BE(4 << 20, o)
    }
    return b
  }

  private decodeFetch(b: Buffer): Fetched[] {
    let o = 0
    const correlation = b.readInt32BE(o)
    if (correlation !== this.correlation) throw new Error('fetch loop: answer to another request')
    o += 4 + 4 // correlation id, throttle time
    const topics = b.readInt32BE(o)
    o += 4
    const out: Fetched[] = []
    for (let t = 0; t < topics; t++) {
      o += 2 + b.readInt16BE(o) // topic name
      const partitions = b.readInt32BE(o)
      o += 4
      for (let i = 0; i < partitions; i++) {
        const partition = b.readInt32BE(o)
        const error = b.readInt16BE(o + 4)
        if (error !== 0)
          throw new Error(`fetch loop: partition ${partition} answered error ${error}`)
        o += 4 + 2 + 8 + 8 // partition, error, high watermark, last stable offset
        const aborted = b.readInt32BE(o)
        o += 4 + Math.max(0, aborted) * 16
        const length = b.readInt32BE(o)
        o += 4
        if (length <= 0) continue
        const keys = this.decodeRecords(b.subarray(o, o + length), partition)
        if (keys.length > 0) out.push({ partition, keys })
        o += length
      }
    }
    return out
  }

  /** Record batches (magic 2). A batch cut off at the end is left for the next fetch. */
  private decodeRecords(b: Buffer, partition: number): string[] {
    const keys: string[] = []
    let o = 0
    while (o + 61 <= b.length) {
      const baseOffset = b.readBigInt64BE(o)
      const batchLength = b.readInt32BE(o + 8)
      const end = o + 12 + batchLength
      if (end > b.length) break
      const magic = b.readInt8(o + 16)
      const attributes = b.readInt16BE(o + 21)
      if (magic !== 2) throw new Error(`fetch loop: record batch magic ${magic}, expected 2`)
      if ((attributes & 0x07) !== 0) throw new Error('fetch loop: compressed batches unsupported')
      const lastOffsetDelta = b.readInt32BE(o + 23)
      const count = b.readInt32BE(o + 57)
      let r = o + 61
      for (let i = 0; i < count; i++) {
        const [len, a] = varint(b, r)
        const recordEnd = a + len
        let p = a + 1 // attributes
        p = varint(b, p)[1] // timestamp delta
        const offsetDelta = varint(b, p)
        p = offsetDelta[1]
        const [keyLength, k] = varint(b, p)
        if (baseOffset + BigInt(offsetDelta[0]) >= (this.offsets[partition] ?? 0n) && keyLength > 0)
          keys.push(b.toString('utf8', k, k + keyLength))
        r = recordEnd
      }
      this.offsets[partition] = baseOffset + BigInt(lastOffsetDelta) + 1n
      o = end
    }
    return keys
  }
}

/** A zigzag varint at `o`: [value, offset after it]. */
function varint(b: Buffer, o: number): [number, number] {
  let raw = 0
  let shift = 0
  let byte: number
  do {
    byte = b[o++] ?? 0
    raw += (byte & 0x7f) * 2 ** shift
    shift += 7
  } while (byte & 0x80)
  return [raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2, o]
}
