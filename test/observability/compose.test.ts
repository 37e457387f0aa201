/**
 * compose.yaml beyond what dclint checks, since no Docker engine runs here: start-up order
 * (every condition can be met, nothing starts before the schema and the topic exist) and
 * database logins (each process connects as its own role, with the password migrate set).
 */
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config'
import { roles } from '../../src/db/roles'
import { readCompose } from '../helpers/stack-files'

const { services } = readCompose()

describe('compose start-up order', () => {
  it('every dependency exists and its condition can be met', () => {
    const problems: string[] = []
    for (const [name, s] of Object.entries(services)) {
      for (const [dep, { condition }] of Object.entries(s.depends_on)) {
        const target = services[dep]
        if (!target) problems.push(`${name} depends on missing ${dep}`)
        else if (condition === 'service_healthy' && !target.healthcheck)
          problems.push(`${name} waits for ${dep} to be healthy, but it has no healthcheck`)
        else if (condition === 'service_completed_successfully' && target.restart !== 'no')
          problems.push(`${name} waits for ${dep} to complete, but it is not a one-shot`)
        else if (target.profiles.some((p) => !s.profiles.includes(p)))
          problems.push(`${name} depends on ${dep}, which only runs in a profile`)
      }
    }
    expect(problems).toEqual([])
  })

  it.each([
    ['api', { migrate: 'service_completed_successfully' }],
    [
      'relay',
      {
        migrate: 'service_completed_successfully',
        redpanda: 'service_healthy',
        topic: 'service_completed_successfully',
      },
    ],
    [
      'consumer',
      {
        migrate: 'service_completed_successfully',
        redpanda: 'service_healthy',
        topic: 'service_completed_successfully',
      },
    ],
    ['migrate', { postgres: 'service_healthy' }],
    ['topic', { redpanda: 'service_healthy' }],
  ])('%s starts after its dependencies are ready', (name, expected) => {
    const dependsOn = services[name]?.depends_on ?? {}
    const conditions = Object.fromEntries(
      Object.entries(dependsOn).map(([dep, { condition }]) => [dep, condition]),
    )
    expect(conditions).toEqual(expected)
  })
})

describe('compose database logins', () => {
  const migrate = services.migrate
  const url = (service: string) => new URL(services[service]?.environment.DATABASE_URL ?? '')

  it('migrate connects as the database owner', () => {
    expect(url('migrate').username).toBe(services.postgres?.environment.POSTGRES_USER)
    expect(url('migrate').password).toBe(services.postgres?.environment.POSTGRES_PASSWORD)
  })

  // Read the way db:migrate reads it.
  const passwords = loadConfig({
    DB_ROLE_PASSWORDS: migrate?.environment.DB_ROLE_PASSWORDS,
  }).rolePasswords

  it.each(['api', 'relay', 'consumer'] as const)(
    '%s connects as its own role with the password migrate set',
    (role) => {
      const password = passwords[role]
      expect(password?.length ?? 0).toBeGreaterThanOrEqual(8)
      expect(url(role).username).toBe(roles[role])
      expect(url(role).password).toBe(password)
      expect(`${url(role).host}${url(role).pathname}`).toBe(
        `${url('migrate').host}${url('migrate').pathname}`,
      )
    },
  )
})
