/**
 * A development Kafka-protocol broker: librdkafka's mock cluster (the one librdkafka tests
 * itself against), loaded through koffi (Debian's `librdkafka1`, Homebrew's
 * `librdkafka`) when the first broker starts. It speaks the real wire
 * protocol, so kafkajs produces and consumes against it unchanged. It keeps messages in
 * memory only (newest ~5 MB or 100,000 per partition) and lives as long as this process.
 *
 * Known limits of librdkafka 2.0.2's mock: it reports controller id 0, so
 * kafkajs `admin.createTopics` and the idempotent producer fail against it. Topics are
 * created here through the mock API instead.
 */
import type { LibraryHandle } from 'koffi'
import { loadLibrdkafka } from './load-librdkafka'

/** The functions used here, bound on first use: importing this module loads nothing. */
function bind(lib: LibraryHandle) {
  return {
    conf_new: lib.func('void *rd_kafka_conf_new()'),
    conf_set: lib.func(
      'int rd_kafka_conf_set(void *conf, str name, str value, _Out_ uint8_t *errstr, size_t errstr_size)',
    ),
    kafka_new: lib.func(
      'void *rd_kafka_new(int type, void *conf, _Out_ uint8_t *errstr, size_t errstr_size)',
    ),
    destroy: lib.func('void rd_kafka_destroy(void *rk)'),
    cluster_new: lib.func('void *rd_kafka_mock_cluster_new(void *rk, int brokers)'),
    cluster_destroy: lib.func('void rd_kafka_mock_cluster_destroy(void *mcluster)'),
    bootstraps: lib.func('str rd_kafka_mock_cluster_bootstraps(void *mcluster)'),
    topic_create: lib.func(
      'int rd_kafka_mock_topic_create(void *mcluster, str topic, int partitions, int replication)',
    ),
    broker_set_down: lib.func('int rd_kafka_mock_broker_set_down(void *mcluster, int32 id)'),
    broker_set_up: lib.func('int rd_kafka_mock_broker_set_up(void *mcluster, int32 id)'),
    broker_set_rtt: lib.func(
      'int rd_kafka_mock_broker_set_rtt(void *mcluster, int32 id, int rtt_ms)',
    ),
    push_request_errors: lib.func(
      'void rd_kafka_mock_push_request_errors_array(void *mcluster, int16 apiKey, size_t cnt, int32 *errors)',
    ),
    clear_request_errors: lib.func(
      'void rd_kafka_mock_clear_request_errors(void *mcluster, int16 apiKey)',
    ),
  }
}

let rd: ReturnType<typeof bind> | undefined
const librdkafka = () => {
  rd ??= bind(loadLibrdkafka())
  return rd
}

const RD_KAFKA_PRODUCER = 0

/** Kafka protocol API keys used by fault injection. */
export const ApiKey = { Produce: 0, Fetch: 1, Metadata: 3 } as const
/** Kafka protocol error codes (a few, for fault injection). */
export const KafkaError = {
  LEADER_NOT_AVAILABLE: 5,
  NOT_LEADER_FOR_PARTITION: 6,
  REQUEST_TIMED_OUT: 7,
  MESSAGE_TOO_LARGE: 10,
  NOT_ENOUGH_REPLICAS: 19,
} as const

export type MockKafka = {
  /** Comma-separated `host:port` list, for KAFKA_BROKERS. */
  readonly bootstrap: string
  readonly brokerIds: readonly number[]
  createTopic(name: string, partitions?: number): void
  setBrokerDown(id: number): void
  setBrokerUp(id: number): void
  setAllBrokersDown(): void
  setAllBrokersUp(): void
  setRtt(id: number, ms: number): void
  /** The next `errors.length` requests of this API key fail with these codes, in turn. */
  pushRequestErrors(apiKey: number, errors: readonly number[]): void
  clearRequestErrors(apiKey: number): void
  close(): void
}

function check(what: string, rc: number): void {
  if (rc !== 0) throw new Error(`librdkafka mock: ${what} failed with error code ${rc}`)
}

export function startMockKafka(options: { brokers?: number } = {}): MockKafka {
  const {
    conf_new: rd_kafka_conf_new,
    conf_set: rd_kafka_conf_set,
    kafka_new: rd_kafka_new,
    destroy: rd_kafka_destroy,
    cluster_new: mock_cluster_new,
    cluster_destroy: mock_cluster_destroy,
    bootstraps: mock_bootstraps,
    topic_create: mock_topic_create,
    broker_set_down: mock_broker_set_down,
    broker_set_up: mock_broker_set_up,
    broker_set_rtt: mock_broker_set_rtt,
    push_request_errors: mock_push_request_errors,
    clear_request_errors: mock_clear_request_errors,
  } = librdkafka()
  const brokers = options.brokers ?? 3
  const errstr = Buffer.alloc(512)
  const conf = rd_kafka_conf_new()
  // The handle only hosts the cluster; keep its own logging quiet.
  rd_kafka_conf_set(conf, 'log_level', '3', errstr, errstr.length)
  const rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr.length)
  if (!rk) throw new Error(`rd_kafka_new failed: ${errstr.toString().replace(/\0.*$/s, '')}`)
  const cluster = mock_cluster_new(rk, brokers)
  if (!cluster) throw new Error('rd_kafka_mock_cluster_new failed')
  const brokerIds = Array.from({ length: brokers }, (_, i) => i + 1)
  let closed = false

  return {
    bootstrap: mock_bootstraps(cluster),
    brokerIds,
    createTopic: (name, partitions = 3) =>
      check(`create topic ${name}`, mock_topic_create(cluster, name, partitions, 1)),
    setBrokerDown: (id) => check(`broker ${id} down`, mock_broker_set_down(cluster, id)),
    setBrokerUp: (id) => check(`broker ${id} up`, mock_broker_set_up(cluster, id)),
    setAllBrokersDown: () => {
      for (const id of brokerIds) check(`broker ${id} down`, mock_broker_set_down(cluster, id))
    },
    setAllBrokersUp: () => {
      for (const id of brokerIds) check(`broker ${id} up`, mock_broker_set_up(cluster, id))
    },
    setRtt: (id, ms) => check(`broker ${id} rtt`, mock_broker_set_rtt(cluster, id, ms)),
    pushRequestErrors: (apiKey, errors) =>
      mock_push_request_errors(cluster, apiKey, errors.length, Int32Array.from(errors)),
    clearRequestErrors: (apiKey) => mock_clear_request_errors(cluster, apiKey),
    close: () => {
      if (closed) return
      closed = true
      mock_cluster_destroy(cluster)
      rd_kafka_destroy(rk)
    },
  }
}
