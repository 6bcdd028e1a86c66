import { createHash, randomUUID } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'

/*
 * s3rver is a CommonJS package without types; the parts used here are described structurally.
 *
 * s3rver speaks the S3 REST API (path-style addressing, XML, multipart uploads, ListObjectsV2 continuation tokens,
 * access key ids; it does not verify SigV4 signatures or checksums), but its filesystem store departs from S3
 * in three ways that a blob-store conformance suite notices: a PUT truncates
 * and rewrites the object file in place (readers see half-written objects, where S3 PUTs are atomic), it answers
 * a PUT before the bytes are on disk, and it turns each key segment into a file name (a 255-byte segment, valid
 * on S3, fails with ENAMETOOLONG). `AtomicStore` keeps s3rver's API layer and stores each object under a hash of
 * its key, writes it to a temp file and renames it into place, and lists keys in S3's order (UTF-8 bytes).
 */
interface S3rverServer {
  run(): Promise<AddressInfo>
  close(): Promise<void>
  store: unknown
  context: { store: unknown }
  httpServer?: { closeAllConnections(): void }
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverServer
interface StoredObject {
  readonly bucket: string
  readonly key: string
  readonly content: Buffer | Readable
  readonly metadata: Record<string, string>
}
interface FilesystemStore {
  readonly rootDirectory: string
  getBucketPath(bucket: string): string
  getMetadata(bucket: string, key: string): Promise<Record<string, string>>
  putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5?: string): Promise<void>
  copyObject(...args: unknown[]): Promise<unknown>
}
type FilesystemStoreClass = new (root: string) => FilesystemStore
type S3ObjectClass = new (
  bucket: string,
  key: string,
  content: null,
  metadata: Record<string, string>,
) => unknown

const require = createRequire(import.meta.url)
const S3rver = require('s3rver') as S3rverClass
const BaseStore = require('s3rver/lib/stores/filesystem') as FilesystemStoreClass
const S3Object = require('s3rver/lib/models/object') as S3ObjectClass

const keySuffix = '._S3rver_key'
const byUtf8 = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b))

class AtomicStore extends BaseStore {
  getResourcePath(bucket: string, key = '', resource: string): string {
    const name = key === '' ? '' : createHash('sha256').update(key).digest('hex')
    return path.join(this.rootDirectory, bucket, `${name}._S3rver_${resource}`)
  }

  async putObject(object: StoredObject): Promise<{ size: number; md5: string }> {
    const temp = path.join(this.getBucketPath(object.bucket), `.tmp-${randomUUID()}`)
    const md5 = createHash('md5')
    let size = 0
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        md5.update(chunk)
        size += chunk.byteLength
        callback(null, chunk)
      },
    })
    const source = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content
    try {
      await pipeline(source, counter, createWriteStream(temp))
      const digest = md5.digest('hex')
      await writeFile(this.getResourcePath(object.bucket, object.key, 'key'), object.key)
      await this.putMetadata(object.bucket, object.key, object.metadata, digest)
      await rename(temp, this.getResourcePath(object.bucket, object.key, 'object'))
      return { size, md5: digest }
    } catch (error) {
      await unlink(temp).catch(() => undefined)
      throw error
    }
  }

  override async copyObject(...args: unknown[]): Promise<unknown> {
    const [, , destBucket, destKey] = args as [string, string, string, string]
    await writeFile(this.getResourcePath(destBucket, destKey, 'key'), destKey)
    return super.copyObject(...args)
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    for (const resource of ['object', 'object.md5', 'metadata.json', 'key']) {
      await unlink(this.getResourcePath(bucket, key, resource)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error
      })
    }
  }

  async listObjects(
    bucket: string,
    options: { delimiter?: string; startAfter?: string; prefix?: string; maxKeys?: number },
  ): Promise<{ objects: unknown[]; commonPrefixes: string[]; isTruncated: boolean }> {
    const { delimiter = '', startAfter = '', prefix = '', maxKeys = Infinity } = options
    const bucketPath = this.getBucketPath(bucket)
    const names = (await readdir(bucketPath)).filter((name) => name.endsWith(keySuffix))
    const allKeys = await Promise.all(names.map((name) => readFile(path.join(bucketPath, name), 'utf8')))
    const commonPrefixes = new Set<string>()
    const keys: string[] = []
    let isTruncated = false
    for (const key of allKeys.filter((k) => k.startsWith(prefix) && byUtf8(k, startAfter) > 0).sort(byUtf8)) {
      const cut = delimiter === '' ? -1 : key.indexOf(delimiter, prefix.length)
      if (cut !== -1) {
        commonPrefixes.add(key.slice(0, cut + delimiter.length))
      } else if (keys.length < maxKeys) {
        keys.push(key)
      } else {
        isTruncated = true
        break
      }
    }
    const objects = []
    for (const key of keys) {
      const metadata = await this.getMetadata(bucket, key).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined
        throw error
      })
      if (metadata !== undefined) objects.push(new S3Object(bucket, key, null, metadata))
    }
    return { objects, commonPrefixes: [...commonPrefixes].sort(byUtf8), isTruncated }
  }
}

/*
 * Run as its own process by `startS3TestServer` (test/support/s3-server.ts), with --openssl-legacy-provider:
 * s3rver encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 only offers through that provider.
 * Arguments: the directory and the bucket. Prints `{"port":N}` once listening; exits when stdin closes.
 */
const [directory, bucket] = process.argv.slice(2)
if (directory === undefined || bucket === undefined)
  throw new Error('usage: s3-server-main.ts <directory> <bucket>')
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory,
  configureBuckets: [{ name: bucket }],
})
server.store = server.context.store = new AtomicStore(directory)
const address = await server.run()
process.stdout.write(`${JSON.stringify({ port: address.port })}\n`)
process.stdin.resume()
process.stdin.on('end', () => {
  server.httpServer?.closeAllConnections()
  void server.close().finally(() => process.exit(0))
})
