import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { removeStaleScratch } from './scratch.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'freshet-scratch-'))
})
afterEach(async () => rm(dir, { recursive: true, force: true }))

describe('removeStaleScratch', () => {
  it('removes scratch older than an hour left by killed processes, and keeps recent scratch and everything else', async () => {
    const old = new Date(Date.now() - 2 * 3600_000)
    await mkdir(path.join(dir, 'tmp', 'ingest-old'), { recursive: true })
    await writeFile(path.join(dir, 'tmp', 'ingest-old', 'source'), 'x')
    await utimes(path.join(dir, 'tmp', 'ingest-old'), old, old)
    await mkdir(path.join(dir, 'tmp', 'train-new'), { recursive: true })
    await mkdir(path.join(dir, 'blobs', '.tmp'), { recursive: true })
    await writeFile(path.join(dir, 'blobs', '.tmp', 'partial'), 'y')
    await utimes(path.join(dir, 'blobs', '.tmp', 'partial'), old, old)
    await writeFile(path.join(dir, 'blobs', 'kept'), 'z')
    await utimes(path.join(dir, 'blobs', 'kept'), old, old)

    expect(await removeStaleScratch(dir)).toBe(2)
    expect(await readdir(path.join(dir, 'tmp'))).toEqual(['train-new'])
    expect(await readdir(path.join(dir, 'blobs', '.tmp'))).toEqual([])
    expect(await readdir(path.join(dir, 'blobs'))).toEqual(['.tmp', 'kept'])
  })
})
