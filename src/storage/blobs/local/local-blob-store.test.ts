import type { FileHandle } from 'node:fs/promises'
import { mkdir, mkdtemp, open, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { isFreshetError } from '../../../core/errors.js'
import { describeBlobStoreContract } from '../blob-store.contract.js'
import { callsAcceptingBadKeys, maliciousBlobKeys } from '../key-safety.contract.js'
import { LocalBlobStore } from './local-blob-store.js'

describeBlobStoreContract({
  name: 'local',
  create: async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'freshet-blobs-'))
    const store = await LocalBlobStore.open(path.join(dir, 'root'))
    return { store, cleanup: () => rm(dir, { recursive: true, force: true }) }
  },
})

async function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'resolved',
    (error: unknown) => (isFreshetError(error) ? error.code : String(error)),
  )
}

describe('LocalBlobStore', () => {
  let parent: string
  let root: string
  let store: LocalBlobStore

  beforeEach(async () => {
    parent = await mkdtemp(path.join(os.tmpdir(), 'freshet-blobs-'))
    root = path.join(parent, 'root')
    store = await LocalBlobStore.open(root)
  })
  afterEach(async () => {
    vi.restoreAllMocks()
    await store.close()
    await rm(parent, { recursive: true, force: true })
  })

  const tmpEntries = (): Promise<string[]> => readdir(path.join(root, '.tmp'))

  it('creates the root and keeps objects as plain files under it', async () => {
    await store.put('a/b.txt', 'hello')
    expect(await readFile(path.join(root, 'a', 'b.txt'), 'utf8')).toBe('hello')
    expect((await readdir(root)).sort()).toEqual(['.tmp', 'a'])
  })

  it('leaves no temp files after puts, a failed put or an aborted put', async () => {
    await store.put('x', 'one')
    await store.putStream('y', Readable.from([Buffer.from('two')]))
    expect(await tmpEntries()).toEqual([])

    async function* fails(): AsyncGenerator<Uint8Array> {
      yield await Promise.resolve(Buffer.from('half'))
      throw new Error('source failed')
    }
    expect(await codeOf(store.putStream('x', fails()))).toBe('Error: source failed')
    const controller = new AbortController()
    async function* aborts(): AsyncGenerator<Uint8Array> {
      yield await Promise.resolve(Buffer.from('half'))
      controller.abort()
      yield Buffer.from('more')
    }
    expect(await codeOf(store.putStream('x', aborts(), { signal: controller.signal }))).toBe('ABORTED')
    expect(await tmpEntries()).toEqual([])
    expect(await readFile(path.join(root, 'x'), 'utf8')).toBe('one')
  })

  it('fsyncs the temp file and the folders it changes before a put returns', async () => {
    const probe = await open(path.join(parent, 'probe'), 'w')
    const fileHandle = Object.getPrototypeOf(probe) as FileHandle
    await probe.close()
    const original = Object.getOwnPropertyDescriptor(fileHandle, 'sync')?.value as (
      this: FileHandle,
    ) => Promise<void>
    const synced: string[] = []
    vi.spyOn(fileHandle, 'sync').mockImplementation(async function (this: FileHandle) {
      const info = await this.stat()
      synced.push(info.isDirectory() ? `folder ${info.ino}` : `file ${info.size}`)
      return original.call(this)
    })
    await store.put('new/folder/object.bin', 'twelve bytes')
    const folderIds = await Promise.all(
      ['new/folder', 'new', ''].map(async (dir) => {
        const handle = await open(path.join(root, dir), 'r')
        const { ino } = await handle.stat()
        await handle.close()
        return `folder ${ino}`
      }),
    )
    expect(synced).toEqual(['file 12', ...folderIds])
  })

  it('refuses symlinks that lead out of the root, for every method', async () => {
    const outside = path.join(parent, 'outside')
    await mkdir(outside)
    await writeFile(path.join(outside, 'secret.txt'), 'secret')
    await symlink(outside, path.join(root, 'escape'))
    await symlink(path.join(outside, 'secret.txt'), path.join(root, 'secret-link'))
    for (const key of ['escape/secret.txt', 'escape/new/file.txt', 'secret-link']) {
      expect(await codeOf(store.get(key))).toBe('INVALID_KEY')
      expect(await codeOf(store.getStream(key))).toBe('INVALID_KEY')
      expect(await codeOf(store.head(key))).toBe('INVALID_KEY')
      expect(await codeOf(store.put(key, 'overwritten'))).toBe('INVALID_KEY')
      expect(await codeOf(store.putStream(key, Readable.from([Buffer.from('overwritten')])))).toBe(
        'INVALID_KEY',
      )
      expect(await codeOf(store.delete(key))).toBe('INVALID_KEY')
    }
    expect(await codeOf(store.list('escape/'))).toBe('INVALID_KEY')
    expect(await store.list('')).toEqual([])
    expect(await readdir(outside)).toEqual(['secret.txt'])
    expect(await readFile(path.join(outside, 'secret.txt'), 'utf8')).toBe('secret')
  })

  it('follows a symlink that stays inside the root', async () => {
    await store.put('real/file.txt', 'inside')
    await symlink(path.join(root, 'real'), path.join(root, 'alias'))
    expect(Buffer.from(await store.get('alias/file.txt')).toString()).toBe('inside')
  })

  it('creates nothing outside the root, whatever the fuzzed keys', async () => {
    await store.put('existing/object', 'kept')
    expect(await callsAcceptingBadKeys(store, maliciousBlobKeys(2000, 7))).toEqual([])
    expect(await readdir(parent)).toEqual(['root'])
    expect((await readdir(root)).sort()).toEqual(['.tmp', 'existing'])
    expect(await tmpEntries()).toEqual([])
    expect((await store.list('')).map((i) => i.key)).toEqual(['existing/object'])
  })

  it('refuses a key that would be both an object and a folder', async () => {
    await store.put('a', 'object')
    expect(await codeOf(store.put('a/b', 'nested'))).toBe('INVALID_KEY')
    await store.put('c/d', 'nested')
    expect(await codeOf(store.put('c', 'object'))).toBe('INVALID_KEY')
    expect(await tmpEntries()).toEqual([])
  })

  it('removes folders a delete leaves empty, but not the root', async () => {
    await store.put('p/q/r/s', 'x')
    await store.put('p/t', 'y')
    await store.delete('p/q/r/s')
    expect(await readdir(path.join(root, 'p'))).toEqual(['t'])
    await store.delete('p/t')
    expect(await readdir(root)).toEqual(['.tmp'])
  })

  it('never lists its own .tmp folder or stray dot files at the top', async () => {
    await writeFile(path.join(root, '.tmp', 'left-by-a-crash'), 'x')
    await writeFile(path.join(root, '.DS_Store'), 'x')
    await store.put('visible', 'x')
    expect((await store.list('')).map((i) => i.key)).toEqual(['visible'])
  })
})
