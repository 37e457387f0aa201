/** The zod pieces the settings are made of: each names its setting in every message. */
import { isIP } from 'node:net'
import { z } from 'zod'

/** A whole number in [min, max]; `zeroMeans` names what 0 does when 0 is allowed. */
export const wholeNumber = (name: string, max: number, zeroMeans?: string) =>
  z.coerce
    .number({ error: `${name} must be a number` })
    .int(`${name} must be a whole number`)
    .min(
      zeroMeans ? 0 : 1,
      zeroMeans ? `${name} must be 0 (${zeroMeans}) or more` : `${name} must be at least 1`,
    )
    .max(max, `${name} must be at most ${max}`)
export const intSetting = (name: string, def: number, max: number, zeroMeans?: string) =>
  wholeNumber(name, max, zeroMeans).default(def)

const durationUnits = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const
/** "90s", "30m", "12h", "7d" -> milliseconds. */
export const duration = (name: string, def: string) =>
  z
    .string()
    .regex(/^\d+\s*[smhd]$/, `${name} must be a number and a unit (s, m, h or d), e.g. 7d`)
    .default(def)
    .transform((s) => {
      const unit = s.at(-1) as keyof typeof durationUnits
      return Number.parseInt(s, 10) * durationUnits[unit]
    })
    .refine((ms) => ms > 0, `${name} must be more than 0`)

/** "a, b,,c" -> ["a", "b", "c"]. */
export const commaList = () =>
  z.string().transform((s) =>
    s
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean),
  )

export function isAddressOrRange(s: string): boolean {
  const [address = '', bits, ...rest] = s.split('/')
  const family = isIP(address)
  if (family === 0 || rest.length > 0) return false
  if (bits === undefined) return true
  const n = Number(bits)
  return /^\d+$/.test(bits) && n <= (family === 4 ? 32 : 128)
}

const roleNames = ['api', 'relay', 'consumer'] as const
type Role = (typeof roleNames)[number]
const isRole = (s: string): s is Role => (roleNames as readonly string[]).includes(s)

/** What is wrong with one `role:password` entry, never quoting the password. */
function roleEntryProblem(role: string, password: string, seen: Partial<Record<Role, string>>) {
  if (!isRole(role)) {
    return `each entry must be role:password, the role api, relay or consumer (got "${role}")`
  }
  if (seen[role] !== undefined) return `${role} is given twice`
  if (password.length < 8) return `the password of ${role} must be at least 8 characters`
  return undefined
}

/** "api:secret1,relay:secret2" -> { api: 'secret1', relay: 'secret2' }; a password may hold
 * colons but not commas. */
export const rolePasswords = () =>
  commaList().transform((entries, ctx) => {
    const passwords: Partial<Record<Role, string>> = {}
    for (const entry of entries) {
      const colon = entry.indexOf(':')
      const role = colon < 0 ? '' : entry.slice(0, colon)
      const password = entry.slice(colon + 1)
      const problem = roleEntryProblem(role, password, passwords)
      if (problem) ctx.addIssue({ code: 'custom', message: problem })
      else if (isRole(role)) passwords[role] = password
    }
    return passwords
  })
