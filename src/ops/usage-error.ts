/** A command line that asks for nothing the CLI can do: exit 2 with the usage text. */
export class UsageError extends Error {
  readonly code = 'USAGE'
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}
