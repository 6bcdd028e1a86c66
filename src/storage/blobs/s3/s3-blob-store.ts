import { Readable } from 'node:stream'
import type * as S3Sdk from '@aws-sdk/client-s3'
import { FreshetError } from '../../../core/errors.js'
import type { BlobInfo, BlobOptions, BlobStore, PutResult } from '../blob-store.js'
import { validateBlobKey, validateBlobPrefix } from '../keys.js'
import { abortedError, chunksOf, throwIfAborted } from '../local/streams.js'
import type { S3Place } from './s3-errors.js'
import { isMissingObject, translateS3Error } from './s3-errors.js'
import { parseEndpoint, parseS3Url } from './s3-location.js'
import type { UploadContext } from './s3-upload.js'
import { putObject, sendOptions, uploadStream } from './s3-upload.js'

const mib = 1024 * 1024

/** How to reach the S3 service; everything is optional against AWS itself. */
export interface S3BlobStoreOptions {
  /** An S3-compatible service such as MinIO, Ceph or R2: `http://host:port` or `https://host`. Default: AWS. */
  readonly endpoint?: string
  /** Default: `AWS_REGION`, else `us-east-1`. */
  readonly region?: string
  /** Address buckets as `endpoint/bucket` rather than `bucket.endpoint`. Default: true when `endpoint` is set. */
  readonly forcePathStyle?: boolean
  /** Default: the SDK's chain (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, `AWS_PROFILE`, instance roles...). */
  readonly credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  /** Part size of multipart uploads, and the size from which a stream is uploaded in parts. Default 16 MiB, min 5. */
  readonly partSize?: number
  /** Keys per list request (S3's maximum and default is 1000). */
  readonly listPageSize?: number
}

/**
 * A {@link BlobStore} on S3 or an S3-compatible service: the object under `a/b.csv` is `s3://bucket/prefix/a/b.csv`.
 *
 * Keys are validated before any request. Puts send the sha256 of the bytes (of every part, for multipart uploads)
 * so S3 refuses damaged bytes; gets ask S3 to return its checksum so the SDK verifies what it reads. A PUT and a
 * CompleteMultipartUpload are atomic per object on S3, so readers see the old object or the whole new one. Streams
 * from one part size on (16 MiB) go up in parts, with at most three parts in memory. Objects under the prefix
 * whose keys the key rules refuse (written by other tools, or `folder/` markers) are not listed.
 *
 * @example
 * const store = await S3BlobStore.open('s3://team-blobs/freshet', { region: 'eu-west-1' })
 * await store.put('models/spam/1/weights.bin', bytes)
 */
export class S3BlobStore implements BlobStore {
  private constructor(
    private readonly upload: UploadContext,
    private readonly place: S3Place,
    private readonly listPageSize: number,
  ) {}

  /**
   * Opens the store at `url` (`s3://bucket` or `s3://bucket/prefix`) and checks that the bucket answers.
   * @throws FreshetError `CONFIG_INVALID` for a malformed URL or option; `BACKEND_UNAVAILABLE` when the endpoint
   *   cannot be reached, the bucket does not exist or the credentials are refused (the message names which).
   */
  static async open(url: string, options: S3BlobStoreOptions = {}): Promise<S3BlobStore> {
    const { bucket, prefix } = parseS3Url(url)
    const endpoint = options.endpoint === undefined ? undefined : parseEndpoint(options.endpoint)
    const partSize = options.partSize ?? 16 * mib
    if (!Number.isInteger(partSize) || partSize < 5 * mib || partSize > 5 * 1024 * mib) {
      throw new FreshetError('CONFIG_INVALID', `the S3 part size ${partSize} is outside S3's limits`, {
        hint: `give a whole number of bytes from ${5 * mib} (5 MiB) to 5 GiB`,
      })
    }
    const listPageSize = options.listPageSize ?? 1000
    if (!Number.isInteger(listPageSize) || listPageSize < 1 || listPageSize > 1000) {
      throw new FreshetError(
        'CONFIG_INVALID',
        `the S3 list page size ${listPageSize} is not from 1 to 1000`,
        {
          hint: 'leave it unset, or give a whole number from 1 to 1000',
        },
      )
    }
    const region = options.region ?? process.env['AWS_REGION'] ?? 'us-east-1'
    // Loaded here, so processes on the embedded default never load the SDK.
    const sdk = await import('@aws-sdk/client-s3')
    const client = new sdk.S3Client({
      region,
      forcePathStyle: options.forcePathStyle ?? endpoint !== undefined,
      ...(endpoint === undefined ? {} : { endpoint }),
      ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
      // We send sha256 checksums ourselves; the SDK's default CRC32 would be a second, weaker one.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: 10_000 },
    })
    const place = { endpoint: endpoint ?? `AWS S3 (${region})`, bucket, prefix }
    const store = new S3BlobStore({ sdk, client, bucket, partSize }, place, listPageSize)
    try {
      await client.send(new sdk.HeadBucketCommand({ Bucket: bucket }))
    } catch (error) {
      client.destroy()
      throw store.bucketError(error)
    }
    return store
  }

  async put(key: string, bytes: Uint8Array | string, options: BlobOptions = {}): Promise<PutResult> {
    validateBlobKey(key)
    throwIfAborted(key, options.signal)
    const data = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes
    try {
      const sent =
        data.byteLength < this.upload.partSize
          ? await putObject(this.upload, this.objectKey(key), data, options.signal)
          : await uploadStream(this.upload, this.objectKey(key), [data], options.signal)
      return { key, ...sent }
    } catch (error) {
      throw this.translate('put', key, error, options.signal)
    }
  }

  async putStream(
    key: string,
    body: Readable | AsyncIterable<Uint8Array>,
    options: BlobOptions = {},
  ): Promise<PutResult> {
    validateBlobKey(key)
    throwIfAborted(key, options.signal)
    try {
      const chunks = chunksOf(key, body, options.signal)
      return { key, ...(await uploadStream(this.upload, this.objectKey(key), chunks, options.signal)) }
    } catch (error) {
      throw this.translate('put', key, error, options.signal)
    }
  }

  async get(key: string, options: BlobOptions = {}): Promise<Uint8Array> {
    validateBlobKey(key)
    throwIfAborted(key, options.signal)
    try {
      const body = await this.getBody(key, options.signal)
      return await body.transformToByteArray()
    } catch (error) {
      throw this.translate('get', key, error, options.signal)
    }
  }

  async getStream(key: string, options: BlobOptions = {}): Promise<Readable> {
    validateBlobKey(key)
    throwIfAborted(key, options.signal)
    try {
      const body = await this.getBody(key, options.signal)
      // In Node the SDK's body is a Readable (wrapped to verify the checksum at its end when S3 sent one).
      const stream =
        body instanceof Readable ? body : Readable.from(body as unknown as AsyncIterable<Uint8Array>)
      const signal = options.signal
      if (signal !== undefined) {
        const onAbort = (): void => {
          stream.destroy(abortedError(key, signal))
        }
        signal.addEventListener('abort', onAbort, { once: true })
        stream.once('close', () => signal.removeEventListener('abort', onAbort))
      }
      return stream
    } catch (error) {
      throw this.translate('get', key, error, options.signal)
    }
  }

  async head(key: string, options: BlobOptions = {}): Promise<BlobInfo | undefined> {
    validateBlobKey(key)
    throwIfAborted(key, options.signal)
    try {
      const result = await this.upload.client.send(
        new this.upload.sdk.HeadObjectCommand({ Bucket: this.place.bucket, Key: this.objectKey(key) }),
        sendOptions(options.signal),
      )
      return { key, size: result.ContentLength ?? 0, modifiedAt: result.LastModified ?? new Date(0) }
    } catch (error) {
      if (isMissingObject(error)) return undefined
      throw this.translate('head', key, error, options.signal)
    }
  }

  async list(prefix: string, options: BlobOptions = {}): Promise<BlobInfo[]> {
    validateBlobPrefix(prefix)
    throwIfAborted(prefix, options.signal)
    const found: BlobInfo[] = []
    let token: string | undefined
    try {
      do {
        const page = await this.upload.client.send(
          new this.upload.sdk.ListObjectsV2Command({
            Bucket: this.place.bucket,
            Prefix: this.objectKey(prefix),
            MaxKeys: this.listPageSize,
            ...(token === undefined ? {} : { ContinuationToken: token }),
          }),
          sendOptions(options.signal),
        )
        for (const object of page.Contents ?? []) {
          const key = object.Key?.slice(this.place.prefix.length)
          if (key === undefined || !object.Key?.startsWith(this.place.prefix) || !isValidKey(key)) continue
          found.push({ key, size: object.Size ?? 0, modifiedAt: object.LastModified ?? new Date(0) })
        }
        token = page.IsTruncated === true ? page.NextContinuationToken : undefined
      } while (token !== undefined)
    } catch (error) {
      throw this.translate('list', prefix, error, options.signal)
    }
    // UTF-8 byte order, as S3 lists; sorted here too so every S3-compatible service gives the same order.
    return found
      .map((info) => ({ info, bytes: Buffer.from(info.key, 'utf8') }))
      .sort((a, b) => Buffer.compare(a.bytes, b.bytes))
      .map(({ info }) => info)
  }

  async delete(key: string, options: BlobOptions = {}): Promise<void> {
    validateBlobKey(key)
    throwIfAborted(key, options.signal)
    try {
      await this.upload.client.send(
        new this.upload.sdk.DeleteObjectCommand({ Bucket: this.place.bucket, Key: this.objectKey(key) }),
        sendOptions(options.signal),
      )
    } catch (error) {
      if (isMissingObject(error)) return
      throw this.translate('delete', key, error, options.signal)
    }
  }

  /** Closes the client's connections. */
  close(): Promise<void> {
    this.upload.client.destroy()
    return Promise.resolve()
  }

  private objectKey(key: string): string {
    return this.place.prefix + key
  }

  private async getBody(
    key: string,
    signal: AbortSignal | undefined,
  ): Promise<NonNullable<S3Sdk.GetObjectCommandOutput['Body']>> {
    const result = await this.upload.client.send(
      new this.upload.sdk.GetObjectCommand({
        Bucket: this.place.bucket,
        Key: this.objectKey(key),
        ChecksumMode: 'ENABLED',
      }),
      sendOptions(signal),
    )
    if (result.Body === undefined) throw this.translate('get', key, { name: 'NoSuchKey' }, signal)
    return result.Body
  }

  private translate(
    operation: string,
    key: string,
    error: unknown,
    signal: AbortSignal | undefined,
  ): unknown {
    return translateS3Error(this.place, `${operation} of blob key ${JSON.stringify(key)}`, key, error, signal)
  }

  /** HeadBucket answers with a bare status, so a 404 here is the bucket, not an object. */
  private bucketError(error: unknown): unknown {
    const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata
      ?.httpStatusCode
    if (status === 404) {
      return new FreshetError(
        'BACKEND_UNAVAILABLE',
        `bucket ${JSON.stringify(this.place.bucket)} does not exist at ${this.place.endpoint}`,
        {
          cause: error,
          hint: 'create the bucket, or correct the bucket name in the blobs URL (and the endpoint and region)',
        },
      )
    }
    const url = `s3://${this.place.bucket}/${this.place.prefix}`
    return translateS3Error(this.place, `opening the blob store ${url}`, url, error, undefined)
  }
}

function isValidKey(key: string): boolean {
  try {
    validateBlobKey(key)
    return true
  } catch {
    return false
  }
}
