import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isFreshetError } from '../../core/errors.js'
import type { BlobStore } from './blob-store.js'
import { mulberry32 } from '../../core/random.js'
import { callsAcceptingBadKeys, maliciousBlobKeys, wellFormedBlobKeys } from './key-safety.contract.js'

export interface BlobStoreContractOptions {
  readonly name: string
  /** A fresh, empty store for one test, and how to remove it afterwards. */
  readonly create: () => Promise<{ store: BlobStore; cleanup: () => Promise<void> }>
}

const sha256 = (bytes: Uint8Array | string): string => createHash('sha256').update(bytes).digest('hex')
const mib = 1024 * 1024

/** The error a promise rejects with, or a failure when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => expect.fail(`expected a rejection, got ${String(value)}`),
    (error: unknown) => error,
  )
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<unknown> {
  const error = await rejection(promise)
  expect(isFreshetError(error) ? error.code : error).toBe(code)
  return error
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk)
  return Buffer.concat(chunks)
}

/** `count` chunks of `chunkSize` pseudo-random bytes, each stamped with its index so a reorder shows. */
function generated(
  count: number,
  chunkSize: number,
): { body: AsyncIterable<Uint8Array>; sha256: () => string } {
  const random = mulberry32(42)
  const block = new Uint8Array(chunkSize).map(() => Math.floor(random() * 256))
  const hash = createHash('sha256')
  async function* body(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < count; i++) {
      const chunk = Uint8Array.from(block)
      new DataView(chunk.buffer).setUint32(0, i)
      hash.update(chunk)
      yield await Promise.resolve(chunk)
    }
  }
  return { body: body(), sha256: () => hash.digest('hex') }
}

/**
 * The conformance suite for {@link BlobStore}: every adapter's test file calls it, then adds its own tests.
 * @example describeBlobStoreContract({ name: 'local', create: async () => ({ store, cleanup }) })
 */
export function describeBlobStoreContract(opts: BlobStoreContractOptions): void {
  describe(`BlobStore contract: ${opts.name}`, () => {
    let store: BlobStore
    let cleanup: () => Promise<void>

    beforeEach(async () => {
      ;({ store, cleanup } = await opts.create())
    })
    afterEach(async () => {
      await store.close()
      await cleanup()
    })

    it('returns the bytes it stored, with their size and sha256', async () => {
      const bytes = Uint8Array.from([0, 1, 2, 250, 255, 10, 13])
      expect(await store.put('a/b/c.bin', bytes)).toEqual({
        key: 'a/b/c.bin',
        size: 7,
        sha256: sha256(bytes),
      })
      expect(Buffer.from(await store.get('a/b/c.bin')).equals(Buffer.from(bytes))).toBe(true)
      const info = await store.head('a/b/c.bin')
      expect(info).toMatchObject({ key: 'a/b/c.bin', size: 7 })
      expect(info?.modifiedAt).toBeInstanceOf(Date)
    })

    it('stores strings as UTF-8 and empty objects', async () => {
      const text = 'données, 日本語 🙂\n'
      expect(await store.put('text.txt', text)).toEqual({
        key: 'text.txt',
        size: Buffer.byteLength(text),
        sha256: sha256(Buffer.from(text, 'utf8')),
      })
      expect(Buffer.from(await store.get('text.txt')).toString('utf8')).toBe(text)
      expect(await store.put('empty', '')).toEqual({ key: 'empty', size: 0, sha256: sha256('') })
      expect((await store.get('empty')).byteLength).toBe(0)
    })

    it('replaces an object on overwrite, including with fewer bytes', async () => {
      await store.put('k', 'a longer first value')
      await store.put('k', 'short')
      expect(Buffer.from(await store.get('k')).toString()).toBe('short')
      expect((await store.head('k'))?.size).toBe(5)
    })

    it('answers a missing key with undefined from head and BLOB_NOT_FOUND from get and getStream', async () => {
      await store.put('present/x', 'x')
      expect(await store.head('missing/key.bin')).toBeUndefined()
      expect(await store.head('present')).toBeUndefined()
      const error = await expectCode(store.get('missing/key.bin'), 'BLOB_NOT_FOUND')
      expect(String(error)).toContain('missing/key.bin')
      await expectCode(store.getStream('missing/key.bin'), 'BLOB_NOT_FOUND')
      await expectCode(store.get('present'), 'BLOB_NOT_FOUND')
    })

    it('streams 64 MiB in and out with the right size and sha256', async () => {
      const input = generated(64, mib)
      const result = await store.putStream('big/blob.bin', input.body)
      expect(result).toEqual({ key: 'big/blob.bin', size: 64 * mib, sha256: input.sha256() })
      expect((await store.head('big/blob.bin'))?.size).toBe(64 * mib)
      const hash = createHash('sha256')
      let size = 0
      for await (const chunk of (await store.getStream('big/blob.bin')) as AsyncIterable<Buffer>) {
        hash.update(chunk)
        size += chunk.byteLength
      }
      expect({ size, sha256: hash.digest('hex') }).toEqual({ size: result.size, sha256: result.sha256 })
    })

    it('accepts a Node Readable as a stream body', async () => {
      const parts = [Buffer.from('hello '), Buffer.from('stream '), Buffer.from('world')]
      const result = await store.putStream('readable.txt', Readable.from(parts))
      expect(result.sha256).toBe(sha256('hello stream world'))
      expect((await readAll(await store.getStream('readable.txt'))).toString()).toBe('hello stream world')
    })

    it('lists by exact key prefix, sorted, through nested folders', async () => {
      const keys = ['data/x.csv', 'data.csv', 'dataset/y/z.csv', 'data/deep/er/q', 'datum', 'b/1', 'a']
      for (const key of keys) await store.put(key, key)
      const listed = async (prefix: string): Promise<string[]> => (await store.list(prefix)).map((i) => i.key)
      expect(await listed('')).toEqual([...keys].sort())
      expect(await listed('data')).toEqual(['data.csv', 'data/deep/er/q', 'data/x.csv', 'dataset/y/z.csv'])
      expect(await listed('data/')).toEqual(['data/deep/er/q', 'data/x.csv'])
      expect(await listed('dat')).toEqual([
        'data.csv',
        'data/deep/er/q',
        'data/x.csv',
        'dataset/y/z.csv',
        'datum',
      ])
      expect(await listed('data/d')).toEqual(['data/deep/er/q'])
      expect(await listed('data/x.csv')).toEqual(['data/x.csv'])
      expect(await listed('nothing/')).toEqual([])
      expect(await listed('data/x.csv/')).toEqual([])
      expect((await store.list('b/'))[0]).toMatchObject({ key: 'b/1', size: 3 })
    })

    it('deletes objects, and deleting a missing one is not an error', async () => {
      await store.put('d/e/f', 'x')
      await store.put('d/g', 'y')
      await store.delete('d/e/f')
      expect(await store.head('d/e/f')).toBeUndefined()
      expect((await store.list('d/')).map((i) => i.key)).toEqual(['d/g'])
      await store.delete('d/e/f')
      await store.delete('never/was')
      await store.put('d/e/f', 'again')
      expect(Buffer.from(await store.get('d/e/f')).toString()).toBe('again')
    })

    it('ends concurrent puts to one key with one whole value, and readers never see a mix', async () => {
      const writers = 8
      const values = Array.from({ length: writers }, (_, i) => Buffer.alloc(16 * 64 * 1024, i + 1))
      async function* slowly(value: Buffer): AsyncGenerator<Uint8Array> {
        for (let at = 0; at < value.length; at += 64 * 1024) {
          yield value.subarray(at, at + 64 * 1024)
          await new Promise<void>((resolve) => setImmediate(resolve))
        }
      }
      const isWhole = (bytes: Uint8Array): boolean => values.some((value) => value.equals(bytes))
      let writing = true
      const mixes: string[] = []
      const reader = async (): Promise<number> => {
        let reads = 0
        while (writing) {
          const bytes = await store.get('shared').catch((error: unknown) => {
            if (isFreshetError(error, 'BLOB_NOT_FOUND')) return undefined
            throw error
          })
          if (bytes !== undefined && !isWhole(bytes)) mixes.push(`read ${bytes.byteLength} mixed bytes`)
          reads++
        }
        return reads
      }
      const readers = [reader(), reader()]
      const results = await Promise.all(values.map((value) => store.putStream('shared', slowly(value))))
      writing = false
      expect(await Promise.all(readers)).not.toContain(0)
      expect(mixes).toEqual([])
      expect(results.map((r) => r.size)).toEqual(values.map((v) => v.length))
      expect(isWhole(await store.get('shared'))).toBe(true)
      expect(await store.list('')).toHaveLength(1)
    })

    it('leaves nothing visible after an aborted putStream, and keeps the old object', async () => {
      const controller = new AbortController()
      async function* abortsThenHangs(): AsyncGenerator<Uint8Array> {
        yield await Promise.resolve(Buffer.from('partial '))
        controller.abort()
        await new Promise<never>(() => undefined)
      }
      await expectCode(store.putStream('fresh', abortsThenHangs(), { signal: controller.signal }), 'ABORTED')
      expect(await store.head('fresh')).toBeUndefined()
      expect(await store.list('')).toEqual([])

      await store.put('kept', 'old value')
      const second = new AbortController()
      async function* abortsThenContinues(): AsyncGenerator<Uint8Array> {
        yield await Promise.resolve(Buffer.from('new '))
        second.abort()
        yield Buffer.from('value')
      }
      await expectCode(store.putStream('kept', abortsThenContinues(), { signal: second.signal }), 'ABORTED')
      expect(Buffer.from(await store.get('kept')).toString()).toBe('old value')

      await expectCode(store.putStream('fresh', Readable.from(['x']), { signal: second.signal }), 'ABORTED')
      await expectCode(store.put('fresh', 'x', { signal: second.signal }), 'ABORTED')
      expect((await store.list('')).map((i) => i.key)).toEqual(['kept'])
    })

    it('keeps the old object when the stream body fails', async () => {
      await store.put('kept', 'old value')
      const failure = new Error('disk on fire')
      async function* fails(): AsyncGenerator<Uint8Array> {
        yield await Promise.resolve(Buffer.from('new '))
        throw failure
      }
      expect(await rejection(store.putStream('kept', fails()))).toBe(failure)
      expect(Buffer.from(await store.get('kept')).toString()).toBe('old value')
      expect((await store.list('')).map((i) => i.key)).toEqual(['kept'])
    })

    it('rejects 2,500 fuzzed traversal keys with INVALID_KEY from every method', async () => {
      const keys = maliciousBlobKeys(2500, 20240601)
      expect(keys).toHaveLength(2500)
      expect(await callsAcceptingBadKeys(store, keys)).toEqual([])
      expect(await store.list('')).toEqual([])
    })

    it('accepts ordinary keys, including spaces, dots inside names and Unicode letters', async () => {
      for (const key of wellFormedBlobKeys) {
        expect(await store.put(key, key)).toMatchObject({ key, size: Buffer.byteLength(key) })
        expect(Buffer.from(await store.get(key)).toString()).toBe(key)
        expect((await readAll(await store.getStream(key))).toString()).toBe(key)
        expect((await store.list(key)).map((i) => i.key)).toContain(key)
      }
      expect((await store.list('')).map((i) => i.key).sort()).toEqual([...wellFormedBlobKeys].sort())
      for (const key of wellFormedBlobKeys) await store.delete(key)
      expect(await store.list('')).toEqual([])
    })
  })
}
