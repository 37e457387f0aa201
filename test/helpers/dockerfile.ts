/**
 * The Dockerfile read as a list of stages and instructions, so its steps can be run and its
 * runtime settings (ENV, USER, CMD) applied outside Docker. Understands what this project's
 * Dockerfile uses: FROM ... AS, WORKDIR, COPY [--from=stage], RUN, ENV k=v, USER, EXPOSE, CMD.
 */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'

export type Instruction = { op: string; args: string }
export type Stage = { name: string; image: string; instructions: Instruction[] }

const root = resolve(import.meta.dirname, '../..')

export function readDockerfile(file = resolve(root, 'Dockerfile')): Stage[] {
  const lines = readFileSync(file, 'utf8')
    .replace(/\\\n/g, ' ') // continuation lines
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
  const stages: Stage[] = []
  for (const line of lines) {
    const [, op = '', args = ''] = line.match(/^(\S+)\s+(.*)$/) ?? []
    if (op.toUpperCase() === 'FROM') {
      const [, image = '', name = ''] = args.match(/^(\S+)(?:\s+AS\s+(\S+))?/i) ?? []
      stages.push({ name: name || String(stages.length), image, instructions: [] })
    } else {
      stages.at(-1)?.instructions.push({ op: op.toUpperCase(), args })
    }
  }
  return stages
}

/** The last stage: what the image runs. */
export function runtimeStage(stages = readDockerfile()): Stage {
  const stage = stages.at(-1)
  if (!stage) throw new Error('Dockerfile has no stage')
  return stage
}

/** `ENV A=1 B=2` instructions of a stage, as an environment. */
export function stageEnv(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {}
  for (const { op, args } of stage.instructions) {
    if (op !== 'ENV') continue
    for (const [, k = '', v = ''] of args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) {
      env[k] = v.replace(/^"|"$/g, '')
    }
  }
  return env
}

/** The stage's USER, if any. */
export const stageUser = (stage: Stage) => stage.instructions.findLast((i) => i.op === 'USER')?.args

/** The Node version of the runtime image's tag: node:24.22-bookworm-slim -> 24.22. */
export function nodeVersionOf(stage: Stage): string {
  const version = stage.image.match(/^node:(\d+(?:\.\d+)*)/)?.[1]
  if (!version) throw new Error(`not a node image: ${stage.image}`)
  return version
}
