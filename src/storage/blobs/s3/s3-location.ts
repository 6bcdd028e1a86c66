import { FreshetError } from '../../../core/errors.js'
import { validateBlobKey } from '../keys.js'

/** A bucket and the key prefix (empty, or ending in `/`) that every object of one store lives under. */
export interface S3Location {
  readonly bucket: string
  readonly prefix: string
}

function invalid(url: string, why: string, hint: string): never {
  throw new FreshetError('CONFIG_INVALID', `the blob store URL ${JSON.stringify(url)} is not valid: ${why}`, {
    hint,
  })
}

const urlShape = 'write it as s3://bucket or s3://bucket/prefix, for example s3://my-team-freshet/prod'

/** Why `bucket` breaks S3's general-purpose bucket naming rules, or undefined when it is a valid name. */
export function bucketNameProblem(bucket: string): string | undefined {
  if (bucket.length < 3 || bucket.length > 63)
    return `bucket names are 3 to 63 characters long, not ${bucket.length}`
  if (!/^[a-z0-9.-]+$/.test(bucket)) return 'bucket names use only lowercase letters, digits, "." and "-"'
  if (!/^[a-z0-9].*[a-z0-9]$/.test(bucket)) return 'bucket names begin and end with a letter or a digit'
  if (bucket.includes('..')) return 'bucket names do not contain ".."'
  if (/^\d+\.\d+\.\d+\.\d+$/.test(bucket)) return 'bucket names are not IP addresses'
  if (
    /^(xn--|sthree-|amzn-s3-demo-)/.test(bucket) ||
    /(-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$/.test(bucket)
  ) {
    return 'the name uses a prefix or suffix that S3 reserves'
  }
  return undefined
}

/**
 * Parses `s3://bucket/prefix`. The prefix loses its leading and trailing `/` and must pass the blob key rules
 * (no `..`, no empty segment, ...), so objects of the store sit under `prefix/` and nowhere else.
 * @throws FreshetError `CONFIG_INVALID` naming the URL and what is wrong with it
 * @example parseS3Url('s3://team-blobs/freshet/prod/') // { bucket: 'team-blobs', prefix: 'freshet/prod/' }
 */
export function parseS3Url(url: string): S3Location {
  if (!url.startsWith('s3://')) invalid(url, 'it does not start with s3://', urlShape)
  const rest = url.slice('s3://'.length)
  if (/[?#]/.test(rest)) {
    invalid(
      url,
      'it has a query or a fragment',
      'pass the endpoint, region and credentials as options, not in the URL',
    )
  }
  if (rest.includes('@')) {
    invalid(
      url,
      'it contains "@"',
      'do not put credentials in the URL; use the credentials option or AWS_* variables',
    )
  }
  const slash = rest.indexOf('/')
  const bucket = slash === -1 ? rest : rest.slice(0, slash)
  if (bucket === '') invalid(url, 'it names no bucket', urlShape)
  const problem = bucketNameProblem(bucket)
  if (problem !== undefined) invalid(url, `bucket ${JSON.stringify(bucket)}: ${problem}`, urlShape)
  const path = slash === -1 ? '' : rest.slice(slash + 1).replace(/^\/+|\/+$/g, '')
  if (path === '') return { bucket, prefix: '' }
  try {
    validateBlobKey(path)
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error)
    return invalid(url, `its prefix ${JSON.stringify(path)} is not a safe key prefix (${why})`, urlShape)
  }
  return { bucket, prefix: `${path}/` }
}

/** Checks an endpoint option: an http or https URL without credentials, path, query or fragment. */
export function parseEndpoint(endpoint: string): string {
  let parsed: URL
  try {
    parsed = new URL(endpoint)
  } catch (error) {
    throw new FreshetError('CONFIG_INVALID', `the S3 endpoint ${JSON.stringify(endpoint)} is not a URL`, {
      cause: error,
      hint: 'write it as http://host:port or https://host, for example http://127.0.0.1:9000',
    })
  }
  const problem =
    parsed.protocol !== 'http:' && parsed.protocol !== 'https:'
      ? `its scheme is ${parsed.protocol} instead of http: or https:`
      : parsed.username !== '' || parsed.password !== ''
        ? 'it contains credentials'
        : parsed.search !== '' || parsed.hash !== ''
          ? 'it has a query or a fragment'
          : undefined
  if (problem !== undefined) {
    throw new FreshetError(
      'CONFIG_INVALID',
      `the S3 endpoint ${JSON.stringify(endpoint)} is not usable: ${problem}`,
      {
        hint: 'write it as http://host:port or https://host; pass credentials with the credentials option',
      },
    )
  }
  return parsed.href.replace(/\/$/, '')
}
