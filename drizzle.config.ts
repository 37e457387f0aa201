import { defineConfig } from 'drizzle-kit'

export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema.ts',
  out: './drizzle',
  // Only `db:generate` reads this file; it needs no database.
  dbCredentials: { url: process.env.DATABASE_URL ?? 'postgres://localhost/outbox' },
})
