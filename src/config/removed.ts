/**
 * Settings that are gone, for whoever upgrades with them still set. One that became a fixed
 * value is ignored with a warning naming it. One whose job moved to another setting stops the
 * process like an invalid one: ignoring it could, say, open a port to every interface that
 * was bound to one address.
 */

/** Fixed now (fixed.ts): a deployment that set one of these runs with the fixed value. */
const fixedNow = [
  'KAFKA_CLIENT_ID',
  'KAFKA_SEND_TIMEOUT_MS',
  'API_DB_POOL_SIZE',
  'MAX_BODY_BYTES',
  'REQUEST_TIMEOUT_MS',
  'IDEMPOTENCY_KEY_TTL_HOURS',
  'RELAY_MAX_ATTEMPTS',
  'RELAY_LINGER_MS',
  'RELAY_BACKOFF_BASE_MS',
  'RELAY_BACKOFF_CAP_MS',
  'SHUTDOWN_TIMEOUT_MS',
  'EVENT_SOURCE',
  'RETENTION_BATCH_SIZE',
  'RETENTION_INTERVAL_MS',
  'READY_MAX_LAG_SECONDS',
  'CONSUMER_GROUP_ID',
  'CONSUMER_COMMIT_INTERVAL_MS',
  'CONSUMER_MAX_ATTEMPTS',
  'CONSUMER_RETRY_BACKOFF_MS',
]

/** Replaced: the old name and what to set instead. */
const replaced: Record<string, string> = {
  API_HOST: 'HOST',
  RELAY_METRICS_HOST: 'HOST',
  CONSUMER_METRICS_HOST: 'HOST',
  RELAY_METRICS_PORT: 'METRICS_PORT',
  CONSUMER_METRICS_PORT: 'METRICS_PORT',
  DB_API_PASSWORD: 'DB_ROLE_PASSWORDS=api:<password>,...',
  DB_RELAY_PASSWORD: 'DB_ROLE_PASSWORDS=relay:<password>,...',
  DB_CONSUMER_PASSWORD: 'DB_ROLE_PASSWORDS=consumer:<password>,...',
}

/** What the given environment still sets of the removed settings. */
export function removedSettings(given: Record<string, unknown>) {
  const set = (name: string) => given[name] !== undefined
  return {
    warnings: fixedNow
      .filter(set)
      .map((name) => `${name} is no longer a setting (its value is fixed now): ignored`),
    problems: Object.entries(replaced)
      .filter(([name]) => set(name))
      .map(([name, instead]) => `${name}: no longer a setting; set ${instead} instead`),
  }
}
