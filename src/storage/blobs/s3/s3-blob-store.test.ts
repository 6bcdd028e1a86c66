import { createHash, randomUUID } from 'node:crypto'
import { mkdir, rm } from 'node:fs/promises'
import type { IncomingHttpHeaders } from 'node:http'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { Readable } from 'node:stream'
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { S3TestServer } from '../../../../test/support/s3-server.js'
import { startS3TestServer } from '../../../../test/support/s3-server.js'
import { isFreshetError } from '../../../core/errors.js'
import { mulberry32 } from '../../../core/random.js'
import { describeBlobStoreContract } from '../blob-store.contract.js'
import { callsAcceptingBadKeys, maliciousBlobKeys } from '../key-safety.contract.js'
import type { S3BlobStoreOptions } from './s3-blob-store.js'
import { S3BlobStore } from './s3-blob-store.js'

const mib = 1024 * 1024
const sha256 = (bytes: Uint8Array | string, encoding: 'hex' | 'base64' = 'hex'): string =>
  createHash('sha256').update(bytes).digest(encoding)

let server: S3TestServer
beforeAll(async () => {
  server = await startS3TestServer()
})
afterAll(async () => {
  await server.stop()
})

const serverOptions = (): S3BlobStoreOptions => ({
  endpoint: server.endpoint,
  credentials: server.credentials,
})
/** A store under a prefix no other test uses. */
const freshStore = (options: S3BlobStoreOptions = serverOptions()): Promise<S3BlobStore> =>
  S3BlobStore.open(`s3://${server.bucket}/t/${randomUUID()}`, options)

describeBlobStoreContract({
  name: 's3 (s3rver)',
  create: async () => ({ store: await freshStore(), cleanup: () => Promise.resolve() }),
})

/** One request as it crossed the wire. */
interface Recorded {
  readonly method: string
  readonly url: string
  readonly headers: IncomingHttpHeaders
  readonly size: number
  readonly sha256: string
}

/** An HTTP proxy in front of the S3 server that records every request, to see what the store sends. */
async function startRecordingProxy(
  target: string,
): Promise<{ endpoint: string; requests: Recorded[]; close: () => Promise<void> }> {
  const upstream = new URL(target)
  const requests: Recorded[] = []
  const proxy = http.createServer((req, res) => {
    const hash = createHash('sha256')
    let size = 0
    const forward = http.request(
      {
        hostname: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      },
    )
    forward.on('error', () => res.destroy())
    // A client that hangs up mid-response (an aborted get) must not leave the server's side half-sent.
    res.on('close', () => {
      if (!res.writableFinished) forward.destroy()
    })
    req.on('data', (chunk: Buffer) => {
      hash.update(chunk)
      size += chunk.byteLength
    })
    req.on('end', () => {
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        size,
        sha256: hash.digest('hex'),
      })
    })
    req.pipe(forward)
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  return {
    endpoint: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    requests,
    close: async () => {
      proxy.closeAllConnections()
      await new Promise<void>((resolve) => proxy.close(() => resolve()))
    },
  }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => expect.fail(`expected a rejection, got ${String(value)}`),
    (error: unknown) => error,
  )
}

/** `size` deterministic pseudo-random bytes, in 1 MiB chunks. */
function generatedBody(size: number): { chunks: Buffer[]; sha256: string } {
  const random = mulberry32(7)
  const bytes = Buffer.from(new Uint8Array(size).map(() => Math.floor(random() * 256)))
  const chunks: Buffer[] = []
  for (let at = 0; at < size; at += mib) chunks.push(bytes.subarray(at, at + mib))
  return { chunks, sha256: sha256(bytes) }
}

describe('S3BlobStore.open', () => {
  it('refuses malformed URLs and options with CONFIG_INVALID naming them, before any request', async () => {
    const proxy = await startRecordingProxy(server.endpoint)
    try {
      const urls = [
        'https://freshet-test/x',
        's3://',
        's3:///prefix',
        's3://Freshet-Test',
        's3://ab',
        's3://192.168.10.20',
        's3://fresh..test',
        's3://-freshet',
        's3://freshet-test/../other-bucket',
        's3://freshet-test/a//b',
        's3://freshet-test/%2e%2e/x',
        's3://freshet-test/x?region=eu-west-1',
        's3://AKIA:secret@freshet-test/x',
      ]
      for (const url of urls) {
        const error = await rejection(
          S3BlobStore.open(url, { endpoint: proxy.endpoint, credentials: server.credentials }),
        )
        expect(isFreshetError(error, 'CONFIG_INVALID') ? error.message : error).toContain(JSON.stringify(url))
      }
      const options: S3BlobStoreOptions[] = [
        { endpoint: 'ftp://127.0.0.1:21' },
        { endpoint: 'not a url' },
        { endpoint: 'http://user:pass@127.0.0.1:9000' },
        { endpoint: proxy.endpoint, partSize: 1024 },
        { endpoint: proxy.endpoint, listPageSize: 0 },
      ]
      for (const option of options) {
        const error = await rejection(S3BlobStore.open(`s3://${server.bucket}`, option))
        expect(isFreshetError(error) ? error.code : error).toBe('CONFIG_INVALID')
      }
      expect(proxy.requests).toEqual([])
    } finally {
      await proxy.close()
    }
  })

  it('keeps each store under its normalised prefix, and a prefix is a folder, not a string start', async () => {
    const base = `s3://${server.bucket}/norm-${randomUUID()}`
    const nested = await S3BlobStore.open(`${base.replace('/norm-', '//norm-')}/team/a/`, serverOptions())
    const sibling = await S3BlobStore.open(`${base}/team-b`, serverOptions())
    const parent = await S3BlobStore.open(`${base}/team`, serverOptions())
    try {
      await nested.put('k.txt', 'nested')
      await sibling.put('k.txt', 'sibling')
      expect((await parent.list('')).map((info) => info.key)).toEqual(['a/k.txt'])
      expect(Buffer.from(await parent.get('a/k.txt')).toString()).toBe('nested')
      expect((await sibling.list('')).map((info) => info.key)).toEqual(['k.txt'])
    } finally {
      await Promise.all([nested.close(), sibling.close(), parent.close()])
    }
  })

  it('says which endpoint cannot be reached when the S3 service is down', async () => {
    const closed = http.createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const endpoint = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`
    await new Promise<void>((resolve) => closed.close(() => resolve()))
    const error = await rejection(
      S3BlobStore.open(`s3://${server.bucket}/x`, { endpoint, credentials: server.credentials }),
    )
    expect(isFreshetError(error, 'BACKEND_UNAVAILABLE')).toBe(true)
    expect(String(error)).toContain(`cannot reach the S3 endpoint ${endpoint}`)
    expect(isFreshetError(error) ? error.hint : '').toContain('endpoint')
  })

  it('says which bucket does not exist, and where', async () => {
    const error = await rejection(S3BlobStore.open('s3://no-such-bucket/x', serverOptions()))
    expect(isFreshetError(error, 'BACKEND_UNAVAILABLE')).toBe(true)
    expect(String(error)).toContain(`bucket "no-such-bucket" does not exist at ${server.endpoint}`)
    expect(isFreshetError(error) ? error.hint : '').toContain('create the bucket')
  })

  it('says the credentials were refused, and what to check', async () => {
    // s3rver checks the access key id (not the signature, so a wrong secret is not testable here).
    const credentials = { accessKeyId: 'UNKNOWN-KEY', secretAccessKey: 'S3RVER' }
    const error = await rejection(
      S3BlobStore.open(`s3://${server.bucket}/x`, { endpoint: server.endpoint, credentials }),
    )
    expect(isFreshetError(error, 'BACKEND_UNAVAILABLE')).toBe(true)
    expect(String(error)).toContain(`refused by bucket "${server.bucket}" at ${server.endpoint}`)
    expect(isFreshetError(error) ? error.hint : '').toContain('AWS_SECRET_ACCESS_KEY')
  })
})

describe('S3BlobStore', () => {
  let proxy: Awaited<ReturnType<typeof startRecordingProxy>>
  let store: S3BlobStore

  beforeEach(async () => {
    proxy = await startRecordingProxy(server.endpoint)
  })
  afterEach(async () => {
    await store.close()
    await proxy.close()
  })

  /** A store that talks through the recording proxy; what open() sent is forgotten. */
  async function proxiedStore(options: Partial<S3BlobStoreOptions> = {}): Promise<S3BlobStore> {
    store = await freshStore({ ...serverOptions(), endpoint: proxy.endpoint, ...options })
    proxy.requests.length = 0
    return store
  }

  /** The UploadPart requests seen, by part number (parts go up two at a time, so they may end out of order). */
  const partRequests = (): Recorded[] =>
    proxy.requests
      .filter((r) => r.method === 'PUT' && r.url.includes('partNumber='))
      .sort((a, b) => partNumber(a) - partNumber(b))
  const partNumber = (r: Recorded): number =>
    Number(new URL(r.url, 'http://x').searchParams.get('partNumber'))

  it('sends no request at all for keys the key rules refuse', async () => {
    await proxiedStore()
    expect(await callsAcceptingBadKeys(store, maliciousBlobKeys(400, 99))).toEqual([])
    expect(proxy.requests).toEqual([])
  })

  it('sends the sha256 of the bytes with a put, so S3 can refuse damaged ones', async () => {
    await proxiedStore()
    const bytes = Buffer.from('model weights, byte for byte')
    expect((await store.put('m/weights.bin', bytes)).sha256).toBe(sha256(bytes))
    const puts = proxy.requests.filter((request) => request.method === 'PUT')
    expect(puts).toHaveLength(1)
    expect(puts[0]?.headers['x-amz-checksum-sha256']).toBe(sha256(bytes, 'base64'))
    expect(puts[0]?.sha256).toBe(sha256(bytes))
  })

  it('uploads a stream over the part size in parts, each carrying its own sha256', async () => {
    await proxiedStore({ partSize: 5 * mib })
    const body = generatedBody(12 * mib + 1)
    const result = await store.putStream('big/data.parquet', Readable.from(body.chunks))
    expect(result).toEqual({ key: 'big/data.parquet', size: 12 * mib + 1, sha256: body.sha256 })

    const started = proxy.requests.filter((r) => r.method === 'POST' && r.url.includes('?uploads'))
    expect(started).toHaveLength(1)
    expect(started[0]?.headers['x-amz-checksum-algorithm']).toBe('SHA256')
    const parts = partRequests()
    expect(parts.map((part) => part.size)).toEqual([5 * mib, 5 * mib, 2 * mib + 1])
    for (const part of parts) {
      expect(part.headers['x-amz-checksum-sha256']).toBe(Buffer.from(part.sha256, 'hex').toString('base64'))
    }
    expect(proxy.requests.filter((r) => r.method === 'POST' && r.url.includes('uploadId='))).toHaveLength(1)

    expect(sha256(await store.get('big/data.parquet'))).toBe(body.sha256)
    expect((await store.head('big/data.parquet'))?.size).toBe(12 * mib + 1)
  })

  it('puts bytes over the part size in parts too, and a stream under it in one request', async () => {
    await proxiedStore({ partSize: 5 * mib })
    const big = Buffer.concat(generatedBody(6 * mib).chunks)
    expect((await store.put('big.bin', big)).sha256).toBe(sha256(big))
    expect(partRequests().map((r) => r.size)).toEqual([5 * mib, mib])
    expect(sha256(await store.get('big.bin'))).toBe(sha256(big))

    proxy.requests.length = 0
    const small = generatedBody(3 * mib)
    expect((await store.putStream('small.bin', Readable.from(small.chunks))).sha256).toBe(small.sha256)
    expect(proxy.requests.map((r) => `${r.method} ${r.size}`)).toEqual([`PUT ${3 * mib}`])
  })

  it('aborts the multipart upload when the body fails, and keeps the old object', async () => {
    await proxiedStore({ partSize: 5 * mib })
    await store.put('kept', 'old value')
    const failure = new Error('source went away')
    const chunks = generatedBody(11 * mib).chunks
    async function* failsLate(): AsyncGenerator<Uint8Array> {
      for (const chunk of chunks) yield await Promise.resolve(chunk)
      throw failure
    }
    expect(await rejection(store.putStream('kept', failsLate()))).toBe(failure)
    const aborts = proxy.requests.filter((r) => r.method === 'DELETE' && r.url.includes('uploadId='))
    expect(aborts).toHaveLength(1)
    expect(proxy.requests.some((r) => r.method === 'POST' && r.url.includes('uploadId='))).toBe(false)
    expect(Buffer.from(await store.get('kept')).toString()).toBe('old value')
    expect((await store.list('')).map((info) => info.key)).toEqual(['kept'])
  })

  it('ends a streaming get with ABORTED when its signal fires mid-way', async () => {
    await proxiedStore()
    await store.put('stream.bin', Buffer.concat(generatedBody(8 * mib).chunks))
    const controller = new AbortController()
    const stream = await store.getStream('stream.bin', { signal: controller.signal })
    const error = await rejection(
      (async () => {
        let size = 0
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          size += chunk.byteLength
          if (!controller.signal.aborted) controller.abort()
        }
        return size
      })(),
    )
    expect(isFreshetError(error) ? error.code : error).toBe('ABORTED')
    expect(stream.destroyed).toBe(true)
  })

  it('lists every key across pages, in UTF-8 byte order', async () => {
    await proxiedStore({ listPageSize: 2 })
    const keys = ['data/x.csv', 'data.csv', 'dataset/y/z.csv', 'data/deep/er/q', 'é/1', 'z', 'A']
    for (const key of keys) await store.put(key, key)
    proxy.requests.length = 0
    const sorted = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    expect((await store.list('')).map((info) => info.key)).toEqual(sorted)
    expect(proxy.requests.filter((r) => r.url.includes('list-type=2'))).toHaveLength(4)
    expect((await store.list('data')).map((info) => info.key)).toEqual([
      'data.csv',
      'data/deep/er/q',
      'data/x.csv',
      'dataset/y/z.csv',
    ])
  })

  it('does not list objects under its prefix whose keys it would refuse', async () => {
    const prefix = `foreign-${randomUUID()}`
    const client = new S3Client({
      endpoint: server.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: server.credentials,
    })
    try {
      for (const key of ['ok.csv', 'folder/', '.tmp/x', 'back\\slash']) {
        await client.send(new PutObjectCommand({ Bucket: server.bucket, Key: `${prefix}/${key}`, Body: 'x' }))
      }
    } finally {
      client.destroy()
    }
    store = await S3BlobStore.open(`s3://${server.bucket}/${prefix}`, serverOptions())
    expect((await store.list('')).map((info) => info.key)).toEqual(['ok.csv'])
  })

  it('reports a bucket removed after open as BACKEND_UNAVAILABLE naming it', async () => {
    const bucket = `doomed-${randomUUID().slice(0, 8)}`
    await mkdir(path.join(server.directory, bucket))
    store = await S3BlobStore.open(`s3://${bucket}/p`, serverOptions())
    await store.put('x', 'x')
    await rm(path.join(server.directory, bucket), { recursive: true })
    for (const call of [() => store.get('x'), () => store.put('y', 'y'), () => store.list('')]) {
      const error = await rejection(call())
      expect(isFreshetError(error, 'BACKEND_UNAVAILABLE')).toBe(true)
      expect(String(error)).toContain(`bucket "${bucket}" at ${server.endpoint} does not exist`)
    }
  })
})
