import { defineConfig } from 'vitest/config'
import base from './vitest.config'

/** `npm run soak`: the long randomised fault soak, kept out of `npm test`. */
export default defineConfig({
  test: {
    ...base.test,
    include: ['test/**/*.soak.ts'],
    testTimeout: 60 * 60_000,
  },
})
