import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig, settingNames } from '../src/config'

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({})
    expect(config).toMatchObject({
      port: 3000,
      kafka: { topic: 'orders.events', idempotent: true },
      relay: { pollIntervalMs: 1000, batchSize: 1000 },
    })
  })

  it('parses brokers as a list', () => {
    const config = loadConfig({ KAFKA_BROKERS: 'a:9092, b:9093' }, ['KAFKA_BROKERS'])
    expect(config.kafka.brokers).toEqual(['a:9092', 'b:9093'])
  })

  it('lists every problem at once, naming each setting', () => {
    let error: unknown
    try {
      loadConfig({ PORT: 'abc', RELAY_BATCH_SIZE: '0', KAFKA_BROKERS: 'nohost' }, ['DATABASE_URL'])
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(ConfigError)
    const problems = (error as ConfigError).problems.join('\n')
    expect(problems).toMatch(/PORT/)
    expect(problems).toMatch(/RELAY_BATCH_SIZE/)
    expect(problems).toMatch(/KAFKA_BROKERS/)
    expect(problems).toMatch(/DATABASE_URL: required/)
    expect((error as ConfigError).problems).toHaveLength(4)
  })

  it('treats empty strings as unset', () => {
    expect(loadConfig({ PORT: '' }).port).toBe(3000)
  })

  it('.env.example documents every setting, and its values are all valid', () => {
    const text = readFileSync(new URL('../.env.example', import.meta.url), 'utf8')
    const entries = text
      .split('\n')
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => line.split('=', 2) as [string, string])
    expect(entries.map(([k]) => k).sort()).toEqual([...settingNames].sort())
    // Loading the example as it stands must pass validation (defaults shown are real).
    expect(() => loadConfig(Object.fromEntries(entries))).not.toThrow()
  })

  it('lingers 20 ms by default; 0 turns the linger off, and a negative value is refused', () => {
    expect(loadConfig({}).relay.lingerMs).toBe(20)
    expect(loadConfig({ RELAY_LINGER_MS: '0' }).relay.lingerMs).toBe(0)
    expect(() => loadConfig({ RELAY_LINGER_MS: '-1' })).toThrow(/RELAY_LINGER_MS/)
  })

  it("points the schema URL at the API's PORT unless EVENT_SCHEMA_BASE_URL says otherwise", () => {
    expect(loadConfig({}).relay.eventSchemaBaseUrl).toBe('http://localhost:3000/schemas')
    expect(loadConfig({ PORT: '3100' }).relay.eventSchemaBaseUrl).toBe(
      'http://localhost:3100/schemas',
    )
    const set = { PORT: '3100', EVENT_SCHEMA_BASE_URL: 'https://api.example.com/schemas' }
    expect(loadConfig(set).relay.eventSchemaBaseUrl).toBe('https://api.example.com/schemas')
  })

  it('reads durations like 7d, 12h and 30m, and rejects other units', () => {
    expect(loadConfig({ OUTBOX_RETENTION: '12h' }).retention.maxAgeMs).toBe(12 * 3600_000)
    expect(loadConfig({}).retention.maxAgeMs).toBe(7 * 86_400_000)
    expect(() => loadConfig({ OUTBOX_RETENTION: '2 weeks' })).toThrow(/OUTBOX_RETENTION/)
  })
})
