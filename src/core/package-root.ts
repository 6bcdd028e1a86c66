import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** Freshet's own package folder, found from this file whether it runs from `src/` or from `dist/`. */
export const packageRoot: string = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const candidate = path.join(dir, 'package.json')
    if (existsSync(candidate) && (JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string }).name === 'freshet') return dir
    const parent = path.dirname(dir)
    if (parent === dir) throw new Error('cannot find the freshet package.json above ' + fileURLToPath(import.meta.url))
    dir = parent
  }
})()

/** Freshet's version, from package.json. */
export const version: string = (JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version
