import { spawn } from 'node:child_process'
import type { Spawned } from './process'

/**
 * Runs a command (not a TypeScript file: see spawnEntrypoint for those) with exactly the given
 * env and working directory, collecting its output. `detached` puts it in a process group of its
 * own, so a test can signal the group as a terminal does.
 */
export function spawnCommand(
  argv: readonly string[],
  options: {
    env: Record<string, string>
    cwd?: string
    detached?: boolean
    uid?: number
    gid?: number
  },
): Spawned {
  const [command, ...args] = argv
  if (!command) throw new Error('spawnCommand: empty argv')
  const child = spawn(command, args, {
    env: { PATH: process.env.PATH ?? '', ...options.env },
    cwd: options.cwd,
    detached: options.detached ?? false,
    ...(options.uid === undefined ? {} : { uid: options.uid }),
    ...(options.gid === undefined ? {} : { gid: options.gid }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const listeners = new Set<() => void>()
  const append = (chunk: Buffer) => {
    output += chunk.toString()
    for (const l of listeners) l()
  }
  child.stdout?.on('data', append)
  child.stderr?.on('data', append)
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  )
  return {
    child,
    output: () => output,
    exited,
    waitForOutput: (pattern, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(check)
          reject(new Error(`no ${pattern} in output after ${timeoutMs} ms:\n${output}`))
        }, timeoutMs)
        const check = () => {
          if (!pattern.test(output)) return
          clearTimeout(timer)
          listeners.delete(check)
          resolve()
        }
        listeners.add(check)
        check()
      }),
  }
}
