import { link, mkdir, rename, stat, unlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { errnoCode, isFreshetError } from '../../core/errors.js'

export const processedDir = '.processed'
export const failedDir = '.failed'
export const doneSuffix = '.done'

/** `name` with a timestamp before its extensions: `a.csv.gz` -> `a.20261127T143100123Z.csv.gz`. */
export function stampedName(name: string, at: Date, n = 0): string {
  const dot = name.indexOf('.', 1)
  const stem = dot === -1 ? name : name.slice(0, dot)
  const ext = dot === -1 ? '' : name.slice(dot)
  const stamp = at.toISOString().replace(/[-:.]/g, '')
  return `${stem}.${stamp}${n === 0 ? '' : `-${n}`}${ext}`
}

/**
 * Moves `file` into `dir` under `name` (its own by default), or a timestamped one when that name is taken: never overwrites and
 * never deletes. A hard link then an unlink refuses an existing target atomically; where links are not supported,
 * an existence check and a rename do.
 * @returns the path it now has
 */
export async function moveAside(
  file: string,
  dir: string,
  at: Date,
  name = path.basename(file),
): Promise<string> {
  await mkdir(dir, { recursive: true })
  // Bounded: a few clashes within one millisecond at most.
  for (let n = 0; n < 100; n++) {
    const target = path.join(dir, n === 0 ? name : stampedName(name, at, n - 1))
    try {
      await link(file, target)
      await unlink(file)
      return target
    } catch (error) {
      const code = errnoCode(error)
      if (code === 'EEXIST') continue
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV' && code !== 'ENOSYS') throw error
      if (await exists(target)) continue
      await rename(file, target)
      return target
    }
  }
  throw new Error(`no free name for ${name} in ${dir}`)
}

export async function exists(file: string): Promise<boolean> {
  try {
    await stat(file)
    return true
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return false
    throw error
  }
}

/** The reason file written beside a failed file: the error's code, message and hint. */
export async function writeReason(failedFile: string, error: unknown, at: Date): Promise<string> {
  const lines = isFreshetError(error)
    ? [
        `code: ${error.code}`,
        `message: ${error.message}`,
        ...(error.hint === undefined ? [] : [`hint: ${error.hint}`]),
      ]
    : [`code: INTERNAL`, `message: ${error instanceof Error ? error.message : String(error)}`]
  const target = `${failedFile}.reason.txt`
  await writeFile(target, `${lines.join('\n')}\nat: ${at.toISOString()}\n`, { flag: 'wx' })
  return target
}
