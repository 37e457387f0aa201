/** A retriable broker error (kafkajs's shape): the relay defers the batch, a retry time set. */
export const retriableError = () =>
  Object.assign(new Error('leader moved'), {
    name: 'KafkaJSProtocolError',
    type: 'NOT_LEADER_FOR_PARTITION',
    retriable: true,
  })
