import { readdir, rm, stat } from 'node:fs/promises'
import path from 'node:path'

/** Scratch left by a process that was killed is removed once it is older than this. */
const maxAgeMs = 60 * 60 * 1000

/**
 * Removes scratch folders and files that a killed process left behind: `tmp/ingest-*`, `tmp/train-*`,
 * `tmp/read-*` in the state folder and partial writes in `blobs/.tmp/`. Only old entries go, so a process still
 * working beside this one is not disturbed. Nothing here is ever part of an accepted batch or a model.
 */
export async function removeStaleScratch(stateDir: string, now = Date.now()): Promise<number> {
  let removed = 0
  for (const dir of [path.join(stateDir, 'tmp'), path.join(stateDir, 'blobs', '.tmp')]) {
    let names: string[]
    try {
      names = await readdir(dir)
    } catch {
      continue
    }
    for (const name of names) {
      const entry = path.join(dir, name)
      try {
        if (now - (await stat(entry)).mtimeMs < maxAgeMs) continue
        await rm(entry, { recursive: true, force: true })
        removed++
      } catch {
        // Gone already, or removed by another process at the same time.
      }
    }
  }
  return removed
}
