/**
 * Runs a command where librdkafka cannot be loaded, the way a machine (or an image) without it
 * behaves: in a private mount namespace (`unshare -m`) the library file is covered with
 * /dev/null, so every dlopen of it fails. Nothing outside that one process tree sees a change.
 * Linux only, and needs the right to create a mount namespace (root, as in CI); elsewhere
 * `hideLibrdkafka` is undefined and the tests that need it say so by being skipped.
 */
import { execFileSync } from 'node:child_process'
import { realpathSync } from 'node:fs'

function libraryPath(): string | undefined {
  try {
    const cache = execFileSync('ldconfig', ['-p'], { encoding: 'utf8' })
    const path = cache.match(/librdkafka\.so\.1 .*=> (\S+)/)?.[1]
    return path ? realpathSync(path) : undefined
  } catch {
    return undefined
  }
}

function prefix(): string[] | undefined {
  const lib = libraryPath()
  if (process.platform !== 'linux' || !lib) return undefined
  const argv = ['unshare', '-m', 'sh', '-c', 'mount --bind /dev/null "$0" && exec "$@"', lib]
  try {
    execFileSync(argv[0] ?? '', [...argv.slice(1), 'true'], { stdio: 'ignore' })
    return argv
  } catch {
    return undefined
  }
}

/** Prepend to a command's argv to run it with librdkafka hidden (undefined: cannot here). */
export const hideLibrdkafka: readonly string[] | undefined = prefix()
