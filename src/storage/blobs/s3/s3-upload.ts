import { createHash } from 'node:crypto'
import type * as S3Sdk from '@aws-sdk/client-s3'
import { FreshetError } from '../../../core/errors.js'

/** What an upload needs: the SDK module (loaded lazily), a client, the bucket and the part size. */
export interface UploadContext {
  readonly sdk: typeof S3Sdk
  readonly client: S3Sdk.S3Client
  readonly bucket: string
  readonly partSize: number
}

/** The size and sha256 (hex) of the bytes sent. */
export interface Uploaded {
  readonly size: number
  readonly sha256: string
}

/** S3 accepts at most this many parts in one multipart upload. */
const maxParts = 10_000
/** Part uploads in flight while the next part fills; with it, at most three parts are held in memory. */
const partsInFlight = 2

export const sendOptions = (signal: AbortSignal | undefined): { abortSignal?: AbortSignal } =>
  signal === undefined ? {} : { abortSignal: signal }

function checkEcho(objectKey: string, sent: string, echoed: string | undefined): void {
  // Real S3 verifies the checksum we send and echoes it; a different echo means it stored other bytes.
  if (echoed !== undefined && echoed !== sent) {
    throw new FreshetError(
      'INTEGRITY_MISMATCH',
      `S3 reports checksum ${echoed} for object ${JSON.stringify(objectKey)}, but the bytes sent have ${sent}`,
      { hint: 'the object may hold damaged bytes; write it again and check proxies between here and S3' },
    )
  }
}

/**
 * One PutObject with the sha256 of the bytes, so S3 refuses the write (BadDigest) if they arrive damaged. A PUT
 * is atomic per object on S3: readers see the old object or the whole new one, never a part.
 */
export async function putObject(
  ctx: UploadContext,
  objectKey: string,
  bytes: Uint8Array,
  signal: AbortSignal | undefined,
): Promise<Uploaded> {
  const digest = createHash('sha256').update(bytes).digest()
  const checksum = digest.toString('base64')
  const result = await ctx.client.send(
    new ctx.sdk.PutObjectCommand({
      Bucket: ctx.bucket,
      Key: objectKey,
      Body: bytes,
      ContentLength: bytes.byteLength,
      ChecksumSHA256: checksum,
    }),
    sendOptions(signal),
  )
  checkEcho(objectKey, checksum, result.ChecksumSHA256)
  return { size: bytes.byteLength, sha256: digest.toString('hex') }
}

/** The bytes of `chunks` regrouped into parts of exactly `partSize` bytes, the last one shorter and never empty. */
async function* partsOf(
  chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  partSize: number,
): AsyncGenerator<Uint8Array, void, undefined> {
  let pending: Uint8Array[] = []
  let pendingBytes = 0
  for await (const chunk of chunks) {
    pending.push(chunk)
    pendingBytes += chunk.byteLength
    while (pendingBytes >= partSize) {
      const joined = Buffer.concat(pending, pendingBytes)
      yield joined.subarray(0, partSize)
      const rest = joined.subarray(partSize)
      pending = rest.byteLength > 0 ? [rest] : []
      pendingBytes = rest.byteLength
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes)
}

/**
 * Uploads a stream without holding it in memory: below one part it is a single PutObject; from one full part on
 * it is a multipart upload whose every part carries its sha256, completed only when every part is in. S3 makes
 * the object visible at CompleteMultipartUpload, atomically; on any failure the upload is aborted so no part
 * lingers (a bucket lifecycle rule for incomplete uploads is still wise, for crashes).
 */
export async function uploadStream(
  ctx: UploadContext,
  objectKey: string,
  chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  signal: AbortSignal | undefined,
): Promise<Uploaded> {
  const parts = partsOf(chunks, ctx.partSize)
  const first = await parts.next()
  if (first.done === true || first.value.byteLength < ctx.partSize) {
    return putObject(ctx, objectKey, first.done === true ? new Uint8Array(0) : first.value, signal)
  }
  const created = await ctx.client.send(
    new ctx.sdk.CreateMultipartUploadCommand({
      Bucket: ctx.bucket,
      Key: objectKey,
      ChecksumAlgorithm: 'SHA256',
    }),
    sendOptions(signal),
  )
  const uploadId = created.UploadId
  if (uploadId === undefined) {
    throw new FreshetError(
      'BACKEND_UNAVAILABLE',
      `S3 started a multipart upload of ${objectKey} without an id`,
      {
        hint: 'this S3 service does not follow the multipart API; check the endpoint',
      },
    )
  }
  const whole = createHash('sha256')
  const partDigests: Buffer[] = []
  let size = 0
  const inFlight: Promise<S3Sdk.CompletedPart>[] = []
  const completed: S3Sdk.CompletedPart[] = []
  const uploadPart = async (
    number: number,
    body: Uint8Array,
    digest: Buffer,
  ): Promise<S3Sdk.CompletedPart> => {
    const checksum = digest.toString('base64')
    const result = await ctx.client.send(
      new ctx.sdk.UploadPartCommand({
        Bucket: ctx.bucket,
        Key: objectKey,
        UploadId: uploadId,
        PartNumber: number,
        Body: body,
        ContentLength: body.byteLength,
        ChecksumSHA256: checksum,
      }),
      sendOptions(signal),
    )
    checkEcho(`${objectKey} part ${number}`, checksum, result.ChecksumSHA256)
    return { PartNumber: number, ETag: result.ETag, ChecksumSHA256: checksum }
  }
  try {
    for (let next: IteratorResult<Uint8Array, void> = first; next.done !== true; next = await parts.next()) {
      const body = next.value
      if (partDigests.length === maxParts) {
        throw new FreshetError(
          'INPUT_TOO_LARGE',
          `the stream for ${objectKey} needs more than ${maxParts} parts of ${ctx.partSize} bytes`,
          { hint: 'open the S3 store with a larger partSize' },
        )
      }
      whole.update(body)
      size += body.byteLength
      const digest = createHash('sha256').update(body).digest()
      partDigests.push(digest)
      const upload = uploadPart(partDigests.length, body, digest)
      // Awaited below or in the catch; this only keeps a failure while the next part fills from going unhandled.
      upload.catch(() => undefined)
      inFlight.push(upload)
      if (inFlight.length >= partsInFlight)
        completed.push(await (inFlight.shift() as Promise<S3Sdk.CompletedPart>))
    }
    completed.push(...(await Promise.all(inFlight.splice(0))))
    const done = await ctx.client.send(
      new ctx.sdk.CompleteMultipartUploadCommand({
        Bucket: ctx.bucket,
        Key: objectKey,
        UploadId: uploadId,
        MultipartUpload: { Parts: completed },
      }),
      sendOptions(signal),
    )
    // S3's checksum of a multipart object is the sha256 of the parts' sha256s, shown with "-<part count>" after it.
    const composite = createHash('sha256').update(Buffer.concat(partDigests)).digest('base64')
    checkEcho(objectKey, composite, done.ChecksumSHA256?.replace(/-\d+$/, ''))
  } catch (error) {
    await Promise.allSettled(inFlight)
    await ctx.client
      .send(
        new ctx.sdk.AbortMultipartUploadCommand({ Bucket: ctx.bucket, Key: objectKey, UploadId: uploadId }),
      )
      .catch(() => undefined)
    throw error
  } finally {
    // Ends the body (a Readable is destroyed) when we stop early.
    await parts.return(undefined)
  }
  return { size, sha256: whole.digest('hex') }
}
