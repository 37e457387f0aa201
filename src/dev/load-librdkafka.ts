/**
 * Finds and loads librdkafka for the development broker (mock-kafka.ts), or says in one line how
 * to install it on this OS.
 */
import { readFileSync } from 'node:fs'
import { platform } from 'node:os'
import koffi, { type LibraryHandle } from 'koffi'

/**
 * Where librdkafka is looked for, in order: the dynamic loader's own search (ld.so.cache,
 * LD_LIBRARY_PATH; on macOS DYLD_* and /usr/local/lib), then where Homebrew puts it (macOS on
 * Apple silicon and Intel, Linuxbrew) and a from-source install on Linux.
 */
const LIBRARY_CANDIDATES: Record<string, string[]> = {
  darwin: [
    'librdkafka.1.dylib',
    '/opt/homebrew/lib/librdkafka.1.dylib',
    '/usr/local/lib/librdkafka.1.dylib',
  ],
  linux: [
    'librdkafka.so.1',
    '/usr/local/lib/librdkafka.so.1',
    '/home/linuxbrew/.linuxbrew/lib/librdkafka.so.1',
  ],
}

/** librdkafka could not be loaded: the one thing the development broker needs from the OS. */
export class LibrdkafkaNotFound extends Error {
  constructor(readonly tried: string[]) {
    super(
      `librdkafka not found (the development Kafka broker needs it): ${installHint()}, ` +
        'or set KAFKA_BROKERS to a running Kafka',
    )
    this.name = 'LibrdkafkaNotFound'
  }
}

/** How to install librdkafka on this OS, as one clause. */
function installHint(): string {
  if (platform() === 'darwin') return 'install it with `brew install librdkafka`'
  if (platform() !== 'linux') return 'install librdkafka'
  const osRelease = (() => {
    try {
      return readFileSync('/etc/os-release', 'utf8')
    } catch {
      return ''
    }
  })()
  const ids = /^ID(?:_LIKE)?=(.*)$/gm
  const family = [...osRelease.matchAll(ids)].flatMap((m) =>
    (m[1] ?? '').replace(/"/g, '').split(' '),
  )
  if (family.some((id) => id === 'debian' || id === 'ubuntu'))
    return 'install it with `sudo apt-get install librdkafka1`'
  if (family.some((id) => id === 'fedora' || id === 'rhel'))
    return 'install it with `sudo dnf install librdkafka`'
  if (family.includes('alpine')) return 'install it with `apk add librdkafka`'
  if (family.includes('arch')) return 'install it with `sudo pacman -S librdkafka`'
  return "install librdkafka with your system's package manager"
}

export function loadLibrdkafka(): LibraryHandle {
  const tried = LIBRARY_CANDIDATES[platform()] ?? ['librdkafka.so.1']
  for (const name of tried) {
    try {
      return koffi.load(name)
    } catch {
      // Not there (or not loadable): try the next place.
    }
  }
  throw new LibrdkafkaNotFound(tried)
}
