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

  it('warns once naming a setting that became a fixed value, and runs with the fixed value', () => {
    const warnings: string[] = []
    const config = loadConfig({ RELAY_LINGER_MS: '0', PORT: '3100' }, [], (w) => warnings.push(w))
    expect(warnings).toEqual([
      'RELAY_LINGER_MS is no longer a setting (its value is fixed now): ignored',
    ])
    expect(config.relay.lingerMs).toBe(20)
    expect(config.port).toBe(3100)
  })

  it('stops, naming what to set instead, for a setting another one replaced', () => {
    const warnings: string[] = []
    const load = () =>
      loadConfig({ API_HOST: '127.0.0.1', DB_API_PASSWORD: 'secret-pw', PORT: 'x' }, [], (w) =>
        warnings.push(w),
      )
    expect(load).toThrow(ConfigError)
    expect(() => load()).toThrow(/API_HOST: no longer a setting; set HOST instead/)
    expect(() => load()).toThrow(/DB_API_PASSWORD: no longer a setting; set DB_ROLE_PASSWORDS/)
    expect(() => load()).toThrow(/PORT must be a number/) // listed with the other problems
    expect(warnings).toEqual([])
  })

  it('binds every listener to HOST; the relay and the consumer have their own default port', () => {
    const config = loadConfig({})
    expect([config.relayMetricsPort, config.consumer.metricsPort]).toEqual([9400, 9401])
    expect(config.http.host).toBeUndefined()
    const set = loadConfig({ HOST: '127.0.0.1', METRICS_PORT: '0' })
    expect([set.http.host, set.relayMetricsHost, set.consumer.metricsHost]).toEqual([
      '127.0.0.1',
      '127.0.0.1',
      '127.0.0.1',
    ])
    expect([set.relayMetricsPort, set.consumer.metricsPort]).toEqual([0, 0])
  })

  it('reads role passwords as role:password pairs, never echoing one in a problem', () => {
    const env = { DB_ROLE_PASSWORDS: 'api:first-secret, relay:has:colon' }
    expect(loadConfig(env).rolePasswords).toEqual({ api: 'first-secret', relay: 'has:colon' })
    expect(loadConfig({}).rolePasswords).toEqual({})
    let error: unknown
    try {
      loadConfig({ DB_ROLE_PASSWORDS: 'api:short,admin:long-enough,nocolonsecret,api:again-long' })
    } catch (err) {
      error = err
    }
    const problems = (error as ConfigError).problems
    expect(problems).toEqual([
      'DB_ROLE_PASSWORDS: the password of api must be at least 8 characters',
      expect.stringMatching(/role api, relay or consumer \(got "admin"\)/),
      expect.stringMatching(/role api, relay or consumer \(got ""\)/),
    ])
    expect(problems.join('\n')).not.toMatch(/short|long-enough|nocolonsecret|again-long/)
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
