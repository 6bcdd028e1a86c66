import { errnoCode, FreshetError } from '../../../core/errors.js'
import { abortedError } from '../local/streams.js'

/** Where a store lives, for messages: the endpoint as configured and the bucket. */
export interface S3Place {
  readonly endpoint: string
  readonly bucket: string
  readonly prefix: string
}

/** The fields of an SDK or network error that tell what went wrong, read without depending on the SDK's classes. */
function facts(error: unknown): { name: string; status: number | undefined; errno: string | undefined } {
  const record = (typeof error === 'object' && error !== null ? error : {}) as {
    name?: unknown
    $metadata?: { httpStatusCode?: unknown }
  }
  const status = record.$metadata?.httpStatusCode
  return {
    name: typeof record.name === 'string' ? record.name : '',
    status: typeof status === 'number' ? status : undefined,
    errno: errnoCode(error),
  }
}

const unreachable = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
])
const denied = new Set([
  'AccessDenied',
  'Forbidden',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'AuthorizationHeaderMalformed',
])
const corrupted = new Set(['BadDigest', 'InvalidDigest', 'XAmzContentSHA256Mismatch', 'InvalidChecksum'])

/** True when S3 (or the network) says nothing is stored under the key asked for. */
export function isMissingObject(error: unknown): boolean {
  const { name, status } = facts(error)
  return name === 'NoSuchKey' || (name === 'NotFound' && status === 404)
}

/**
 * Translates what the SDK threw while doing `what` (such as `get of blob key "a/b"`) on `key` into a port error: missing object → `BLOB_NOT_FOUND`,
 * abort → `ABORTED`, rejected checksum → `INTEGRITY_MISMATCH`, and anything that means the backend cannot be used
 * as configured (unreachable endpoint, missing bucket, refused credentials, server errors) → `BACKEND_UNAVAILABLE`
 * naming the endpoint and bucket. Errors that are not the SDK's (a failing input stream) pass through unchanged.
 */
export function translateS3Error(
  place: S3Place,
  what: string,
  key: string,
  error: unknown,
  signal: AbortSignal | undefined,
): unknown {
  if (error instanceof FreshetError) return error
  const { name, status, errno } = facts(error)
  if (signal?.aborted === true) return abortedError(key, signal)
  const where = `bucket ${JSON.stringify(place.bucket)} at ${place.endpoint}`
  if (isMissingObject(error)) {
    return new FreshetError(
      'BLOB_NOT_FOUND',
      `no blob is stored under key ${JSON.stringify(key)} in s3://${place.bucket}/${place.prefix}`,
      { cause: error, hint: 'check the key with list(); it may have been deleted or never written' },
    )
  }
  if (name === 'NoSuchBucket') {
    return new FreshetError('BACKEND_UNAVAILABLE', `${what} failed: ${where} does not exist`, {
      cause: error,
      hint: 'create the bucket, or correct the bucket name in the blobs URL (and the endpoint and region)',
    })
  }
  if (denied.has(name) || status === 403 || status === 401) {
    return new FreshetError(
      'BACKEND_UNAVAILABLE',
      `${what} was refused by ${where}: ${name || `HTTP ${String(status)}`}`,
      {
        cause: error,
        hint:
          'check the access key and secret (credentials option or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), the region ' +
          'and the bucket policy (without s3:ListBucket, S3 answers 403 for a missing key)',
      },
    )
  }
  if (name === 'CredentialsProviderError') {
    return new FreshetError('BACKEND_UNAVAILABLE', `${what} failed: no credentials were found for ${where}`, {
      cause: error,
      hint: 'pass the credentials option, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)',
    })
  }
  if (corrupted.has(name)) {
    return new FreshetError(
      'INTEGRITY_MISMATCH',
      `${what} was refused by ${where}: the bytes S3 received do not match their checksum (${name})`,
      {
        cause: error,
        hint: 'the bytes were damaged on the way; retry the write and check proxies between here and S3',
      },
    )
  }
  if (unreachable.has(errno ?? '') || name === 'TimeoutError' || name === 'RequestTimeout') {
    return new FreshetError(
      'BACKEND_UNAVAILABLE',
      `${what} failed: cannot reach the S3 endpoint ${place.endpoint} (${errno ?? name})`,
      {
        cause: error,
        hint: 'check that the S3 service is running and the endpoint option (host, port, http/https) is right',
      },
    )
  }
  if (status !== undefined) {
    return new FreshetError(
      'BACKEND_UNAVAILABLE',
      `${what} failed at ${where}: ${name || 'error'} (HTTP ${status})`,
      {
        cause: error,
        hint:
          status >= 500
            ? 'the S3 service is failing; retry later and check its health'
            : 'check the endpoint, region and path-style settings for this S3 service',
      },
    )
  }
  return error
}
