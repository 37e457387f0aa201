import { spawn } from 'node:child_process'

export type CliResult = { code: number | string; stdout: string; stderr: string }

/**
 * `npm run outbox -- <args>` as a user runs it: its own process, exactly the given environment.
 * (test/helpers/process.ts spawnEntrypoint passes no arguments, and this one needs them.)
 */
export function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main/outbox.ts', ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
  })
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => resolve({ code: code ?? signal ?? -1, stdout, stderr }))
  })
}
