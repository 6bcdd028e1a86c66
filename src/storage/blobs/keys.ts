import { FreshetError } from '../../core/errors.js'

/** S3's limit, in UTF-8 bytes. */
const maxKeyBytes = 1024
/** NAME_MAX on Linux and macOS, in UTF-8 bytes: a longer segment cannot be a file name. */
const maxSegmentBytes = 255
/** Decode/normalise rounds before a key counts as too deeply encoded to be honest. */
const maxRounds = 16

function reject(key: string, why: string): never {
  throw new FreshetError('INVALID_KEY', `blob key ${JSON.stringify(key)} is not allowed: ${why}`, {
    hint: 'keys are relative paths of plain segments separated by "/", without "..", "\\", control characters, a leading "/" or a leading "."',
  })
}

/**
 * Decodes every run of `%XX` escapes once, leaving malformed escapes (`%zz`, a lone `%`) as they are. A run that
 * decodes to invalid UTF-8 (such as the overlong `%c0%ae` for `.`) is refused: some decoders accept it.
 */
function percentDecoded(key: string, text: string): string {
  return text.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run)
    } catch {
      return reject(key, 'it contains percent-escapes that are not valid UTF-8')
    }
  })
}

/**
 * Every spelling a path layer might see: the key as given, then alternately percent-decoded and NFKC-normalised
 * (full-width `．．`, `‥`, `％２ｅ`) until nothing changes.
 */
function spellings(key: string): string[] {
  const forms = [key]
  let current = key
  for (let round = 0; round < maxRounds; round++) {
    const next = percentDecoded(key, current).normalize('NFKC')
    if (next === current) return forms
    forms.push(next)
    current = next
  }
  return reject(key, 'it is encoded too many times over')
}

function checkSpelling(key: string, form: string): void {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(form)) reject(key, 'it contains a control character')
  if (/[\u2028\u2029\ufeff\u202a-\u202e\u2066-\u2069]/.test(form)) {
    reject(key, 'it contains an invisible separator or direction character')
  }
  if (form.includes('\\')) reject(key, 'it contains a backslash')
  if (form.startsWith('/')) reject(key, 'it is an absolute path')
  if (/^[a-zA-Z]:/.test(form)) reject(key, 'it starts with a drive letter')
  for (const segment of form.split('/')) {
    if (segment === '..' || segment === '.') reject(key, `it has a "${segment}" segment`)
    // Windows drops trailing dots and spaces, so `.. ` and `...` would name `..` or the folder itself there.
    if (segment.length > 0 && /^[.\s]+$/u.test(segment)) {
      reject(key, 'it has a segment made only of dots or spaces')
    }
  }
  // Leading-dot names at the top are the store's own (`.tmp/` holds writes in progress).
  if (form.startsWith('.')) reject(key, 'keys starting with "." are reserved')
}

/**
 * Checks a blob key before any I/O and returns it. Rejects empty keys, absolute paths, drive letters, `..` or `.`
 * segments in any encoding (plain, percent-encoded any number of times, full-width or other Unicode look-alikes
 * after NFKC normalisation), backslashes, NUL and other control characters, lone surrogates, empty segments, a
 * leading `.` (reserved for the store), segments over 255 bytes and keys over 1024 bytes.
 * @throws FreshetError `INVALID_KEY`
 * @example validateBlobKey('datasets/emails/batches/abc/data.parquet') // returns the key
 */
export function validateBlobKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0) reject(String(key), 'it is empty')
  if (Buffer.byteLength(key, 'utf8') > maxKeyBytes) {
    reject(key.slice(0, 40) + '…', `it is longer than ${maxKeyBytes} bytes`)
  }
  // A lone surrogate is written to disk as U+FFFD, so two different keys would share one file.
  if (/\p{Cs}/u.test(key)) reject(key, 'it contains a lone UTF-16 surrogate')
  for (const form of spellings(key)) checkSpelling(key, form)
  const segments = key.split('/')
  if (segments.some((segment) => segment.length === 0)) reject(key, 'it has an empty segment')
  if (segments.some((segment) => Buffer.byteLength(segment, 'utf8') > maxSegmentBytes)) {
    reject(key, `it has a segment longer than ${maxSegmentBytes} bytes`)
  }
  return key
}

/**
 * Checks a list prefix: the empty prefix (everything) or a valid key prefix, possibly ending in one `/`.
 * @throws FreshetError `INVALID_KEY`
 */
export function validateBlobPrefix(prefix: string): string {
  if (prefix === '') return prefix
  validateBlobKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix)
  return prefix
}
