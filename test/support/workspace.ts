import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { configFromObject } from '../../src/config/load.js'
import type { FreshetConfigInput } from '../../src/config/schema.js'
import { openPlatform, type Platform } from '../../src/app/platform.js'

/** A fresh workspace in a temp folder with an open platform; `dispose` removes everything. */
export async function tempPlatform(config: FreshetConfigInput): Promise<{ platform: Platform; dir: string; dispose: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'freshet-test-'))
  const platform = await openPlatform(configFromObject(config, dir))
  return {
    platform,
    dir,
    dispose: async () => {
      await platform.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

export async function sha256File(file: string): Promise<string> {
  return createHash('sha256').update(await readFile(file)).digest('hex')
}
