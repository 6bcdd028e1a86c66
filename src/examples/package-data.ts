import { createRequire } from 'node:module'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { FreshetError } from '../core/errors.js'

/** What an example's data preparation wrote. */
export interface PrepareReport {
  /** Files written, in name order, with their row counts. */
  files: { path: string; rows: number }[]
  /** Rows across `files`. */
  rows: number
  /** Source records set aside (never silently dropped); `path` is set when any were written. */
  rejected: { count: number; path?: string; reasons: Record<string, number> }
}

export interface PrepareOptions {
  /** Called with a few human-readable progress lines. */
  onProgress?: (message: string) => void
}

/**
 * The absolute path of a file inside an installed npm package that ships example data.
 *
 * @throws FreshetError `EXAMPLE_DATA_MISSING` when the package is not installed or lacks the file.
 */
export function packageFile(packageName: string, relativePath: string): string {
  const dir = packageDir(packageName)
  if (dir === undefined)
    throw missing(packageName, `The example data package ${packageName} is not installed.`)
  const file = join(dir, relativePath)
  if (!existsSync(file))
    throw missing(packageName, `The example data package ${packageName} has no ${relativePath}.`)
  return file
}

function packageDir(packageName: string): string | undefined {
  const require = createRequire(import.meta.url)
  try {
    return dirname(require.resolve(`${packageName}/package.json`))
  } catch {
    // A package whose `exports` hides package.json (vega-datasets): look where Node would look for it.
    const dirs = require.resolve.paths(packageName) ?? []
    return dirs.map((dir) => join(dir, packageName)).find((dir) => existsSync(join(dir, 'package.json')))
  }
}

function missing(packageName: string, what: string): FreshetError {
  return new FreshetError('EXAMPLE_DATA_MISSING', `${what} Run: npm install ${packageName}`)
}
