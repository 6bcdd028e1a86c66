import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type * as z from 'zod'
import { FreshetError } from '../core/errors.js'
import { didYouMean } from '../core/names.js'
import { configSchema, type FreshetConfig } from './schema.js'

export const configFileNames = [
  'freshet.config.ts',
  'freshet.config.mts',
  'freshet.config.mjs',
  'freshet.config.js',
  'freshet.config.json',
] as const

/** A validated configuration and where it lives. */
export interface LoadedConfig {
  readonly config: FreshetConfig
  /** The config file, or undefined when built in code. */
  readonly file: string | undefined
  /** The workspace folder: relative paths in the config are resolved against it. */
  readonly root: string
  /** The state folder (database, blobs). */
  readonly stateDir: string
}

function renderPath(p: readonly PropertyKey[]): string {
  let out = ''
  for (const part of p) {
    if (typeof part === 'number') out += `[${part}]`
    else out += out === '' ? String(part) : `.${String(part)}`
  }
  return out === '' ? '(top level)' : out
}

function renderValue(value: unknown): string {
  if (value === undefined) return 'nothing'
  if (typeof value === 'function') return 'a function'
  const json = JSON.stringify(value)
  if (json === undefined) return typeof value === 'symbol' ? value.toString() : 'a value JSON cannot show'
  return json.length > 60 ? `${json.slice(0, 57)}...` : json
}

function describeIssue(issue: z.core.$ZodIssue & { input?: unknown }): string {
  const where = renderPath(issue.path)
  if (issue.code === 'unrecognized_keys') return `${where}: ${issue.message}`
  let message = issue.message.replace(/^Invalid input: /, '').replace(/, received \w+$/, '')
  if (issue.code === 'invalid_union' && 'note' in issue && issue.note === 'No matching discriminator') {
    const discriminator = 'discriminator' in issue ? String(issue.discriminator) : ''
    const options = 'options' in issue && Array.isArray(issue.options) ? issue.options.map(String) : []
    const input = issue.input as Record<string, unknown> | undefined
    const got: unknown = input?.[discriminator]
    const guess = typeof got === 'string' ? didYouMean(got, options) : undefined
    const at = issue.path.at(-1) === discriminator ? where : `${where}.${discriminator}`
    return `${at}: expected one of ${options.join(', ')}, got ${renderValue(got)}${guess === undefined ? '' : ` (did you mean ${JSON.stringify(guess)}?)`}`
  }
  if (issue.code === 'invalid_value' && 'values' in issue) {
    const values = issue.values.map(String)
    const guess = typeof issue.input === 'string' ? didYouMean(issue.input, values) : undefined
    message = `expected one of ${values.join(', ')}`
    if (guess !== undefined) return `${where}: ${message}, got ${renderValue(issue.input)} (did you mean ${JSON.stringify(guess)}?)`
  }
  return `${where}: ${message}, got ${renderValue(issue.input)}`
}

/**
 * Validates a configuration object.
 * @throws FreshetError `CONFIG_INVALID` listing every problem as `path: expected ..., got ...`.
 */
export function validateConfig(input: unknown, file?: string): FreshetConfig {
  const result = configSchema.safeParse(input, { reportInput: true })
  const problems: string[] = []
  if (!result.success) {
    problems.push(...result.error.issues.map((issue) => describeIssue(issue)))
  } else {
    const datasets = Object.keys(result.data.datasets ?? {})
    for (const [name, pipeline] of Object.entries(result.data.pipelines ?? {})) {
      if (!datasets.includes(pipeline.dataset)) {
        const guess = didYouMean(pipeline.dataset, datasets)
        problems.push(
          `pipelines.${name}.dataset: expected one of the datasets (${datasets.join(', ') || 'none declared'}), got ${renderValue(pipeline.dataset)}${guess === undefined ? '' : ` (did you mean ${JSON.stringify(guess)}?)`}`,
        )
      }
    }
  }
  if (problems.length > 0) {
    const where = file === undefined ? 'the configuration' : path.basename(file)
    throw new FreshetError('CONFIG_INVALID', `${where} is not valid:\n  ${problems.join('\n  ')}`, {
      ...(file === undefined ? {} : { file }),
      hint: 'fix the values named above; see the README for the configuration reference',
    })
  }
  if (!result.success) throw new FreshetError('INTERNAL', 'unreachable')
  return result.data
}

/** Finds the config file in `dir` (not its parents: a workspace is explicit). */
export function findConfigFile(dir: string): string | undefined {
  for (const name of configFileNames) {
    const candidate = path.join(dir, name)
    if (existsSync(candidate)) return candidate
  }
  return undefined
}

const packageIndex = fileURLToPath(new URL('../index.js', import.meta.url))

async function importConfigModule(file: string): Promise<unknown> {
  if (file.endsWith('.json')) {
    const text = await readFile(file, 'utf8')
    try {
      return JSON.parse(text) as unknown
    } catch (error) {
      throw new FreshetError('CONFIG_INVALID', `${path.basename(file)} is not valid JSON: ${(error as Error).message}`, {
        file,
        cause: error,
      })
    }
  }
  const { createJiti } = await import('jiti')
  // `import ... from 'freshet'` in a workspace config resolves to this very package, installed or not.
  const jiti = createJiti(import.meta.url, { alias: { freshet: packageIndex }, moduleCache: false, fsCache: false })
  try {
    const mod = await jiti.import<{ default?: unknown }>(file)
    return mod.default ?? mod
  } catch (error) {
    throw new FreshetError('CONFIG_INVALID', `${path.basename(file)} could not be loaded: ${(error as Error).message}`, {
      file,
      cause: error,
    })
  }
}

/**
 * Loads and validates the workspace configuration from `dir` (default: the current directory).
 * @throws FreshetError `CONFIG_NOT_FOUND` when no config file exists, `CONFIG_INVALID` when it is wrong.
 */
export async function loadConfig(dir: string = process.cwd()): Promise<LoadedConfig> {
  const root = path.resolve(dir)
  const file = findConfigFile(root)
  if (file === undefined) {
    throw new FreshetError('CONFIG_NOT_FOUND', `no Freshet configuration in ${root} (looked for ${configFileNames.join(', ')})`, {
      hint: 'run `freshet init` to create a workspace, or pass --workspace <dir>',
    })
  }
  const config = validateConfig(await importConfigModule(file), file)
  return { config, file, root, stateDir: path.resolve(root, config.state ?? '.freshet') }
}

/** Wraps an in-code configuration (tests, library use) the same way as a loaded one. */
export function configFromObject(input: unknown, root: string): LoadedConfig {
  const config = validateConfig(input)
  return { config, file: undefined, root: path.resolve(root), stateDir: path.resolve(root, config.state ?? '.freshet') }
}
