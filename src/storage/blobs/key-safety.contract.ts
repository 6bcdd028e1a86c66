import { isFreshetError } from '../../core/errors.js'
import { mulberry32 } from '../../core/random.js'
import type { BlobStore } from './blob-store.js'

/** Keys every store must accept. */
export const wellFormedBlobKeys: readonly string[] = [
  'datasets/emails/batches/abc/data.parquet',
  'a/b-c_d.e/f.jsonl.gz',
  'models/spam/1/weights.bin',
  'names with spaces/a file.csv',
  'données/é.csv',
  '日本語/ファイル.txt',
  'emoji/🙂.txt',
  'a/.hidden',
  'a..b/c..d',
  '50%off/report%20final.csv',
  `long/${'x'.repeat(255)}`,
]

/** Segments that name the parent or the folder itself once decoded, normalised or read by Windows. */
const dotSegments = [
  ...['..', '.', '%2e%2e', '%2E%2E', '%2e.', '.%2E', '%252e%252e', '%25252e%25252e', '..%2f', '..%2F'],
  ...['%2e%2e%2f', '%2e%2e%5c', '..%5c', '．．', '．', '\u2025', '\u2024\u2024', '\ufe52\ufe52', '\u2024'],
  ...['％２ｅ％２ｅ', '%EF%BC%8E%EF%BC%8E', '%c0%ae%c0%ae', '...', '.. ', ' ', '%2e%2e%00'],
]
/** Characters that poison a key wherever they appear. */
const poisonChars = [
  ...['\\', '%5c', '%5C', '%255c', '＼', '\u0000', '%00', '%2500', '\u0001', '\u001f', '\n', '\r', '\t'],
  ...['\u007f', '\u0085', '%7f', '\u2028', '\u2029', '\ufeff', '\u202e', '\ud800', '\udfff'],
]
/** Beginnings that make a key absolute, a drive path or one of the store's reserved names. */
const poisonStarts = [
  ...['/', '//', '%2f', '%252f', '／', '\\', '\\\\?\\', '//?/', 'C:', 'c:', 'Z:%5c', 'C:/', 'd:\\'],
  ...['.tmp/', '.tmp', '%2etmp/', '．tmp/', '.', '.git/', '..'],
]
const plainSegments = [
  ...['datasets', 'emails', 'batches', 'abc123', 'data.parquet', 'models', 'spam', '1', 'weights.bin'],
  ...['données', 'é.csv', 'report 2024.csv', 'a-b_c', 'etc', 'passwd', 'x'],
]

/**
 * `count` distinct keys, each of which every store must reject with `INVALID_KEY`, as a key and as a list prefix
 * (none is valid merely by dropping a trailing `/`). Deterministic for a given `seed`.
 */
export function maliciousBlobKeys(count: number, seed: number): string[] {
  const random = mulberry32(seed)
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T
  const plain = (min: number): string[] =>
    Array.from({ length: min + Math.floor(random() * 3) }, () => pick(plainSegments))
  const withChar = (segment: string): string => {
    const at = Math.floor(random() * (segment.length + 1))
    return segment.slice(0, at) + pick(poisonChars) + segment.slice(at)
  }
  const makers: (() => string)[] = [
    () => [...plain(0), pick(dotSegments), ...plain(0)].join('/'),
    () => [...plain(0), withChar(pick(plainSegments)), ...plain(0)].join('/'),
    () => pick(poisonStarts) + plain(1).join('/'),
    () => [...plain(1), '', ...plain(1)].join('/'),
    () => [...plain(0), 'y'.repeat(256 + Math.floor(random() * 100)), ...plain(0)].join('/'),
    () => {
      const segments = plain(1)
      while (Buffer.byteLength(segments.join('/')) <= 1030 + random() * 200)
        segments.push(pick(plainSegments))
      return segments.join('/')
    },
    () => [...plain(0), withChar(pick(dotSegments)), ...plain(1)].join('/'),
    () => pick(poisonStarts) + [...plain(0), pick(dotSegments), withChar('z')].join('/'),
  ]
  const keys = new Set<string>()
  for (let tries = 0; keys.size < count && tries < count * 20; tries++) {
    let key = pick(makers)()
    if (random() < 0.2) key += '/'
    keys.add(key)
  }
  return [...keys]
}

/** A body that records whether a store started reading it. */
function watchedBody(): { body: AsyncIterable<Uint8Array>; started: () => boolean } {
  let started = false
  async function* body(): AsyncGenerator<Uint8Array> {
    started = true
    yield await Promise.resolve(new Uint8Array([1, 2, 3]))
  }
  return { body: body(), started: () => started }
}

/**
 * Calls every method of `store` with each key and returns one line per call that did not reject with
 * `INVALID_KEY` (or that read a put body first). An empty result means the store refused them all.
 */
export async function callsAcceptingBadKeys(store: BlobStore, keys: readonly string[]): Promise<string[]> {
  const problems: string[] = []
  for (const key of keys) {
    const watched = watchedBody()
    const calls: [string, () => Promise<unknown>][] = [
      ['put', () => store.put(key, 'x')],
      ['putStream', () => store.putStream(key, watched.body)],
      ['get', () => store.get(key)],
      ['getStream', () => store.getStream(key)],
      ['head', () => store.head(key)],
      ['list', () => store.list(key)],
      ['delete', () => store.delete(key)],
    ]
    for (const [method, call] of calls) {
      const outcome = await Promise.resolve()
        .then(call)
        .then(
          () => 'resolved',
          (error: unknown) => (isFreshetError(error, 'INVALID_KEY') ? undefined : String(error)),
        )
      if (outcome !== undefined) problems.push(`${method}(${JSON.stringify(key)}): ${outcome}`)
    }
    if (watched.started()) problems.push(`putStream(${JSON.stringify(key)}) read the body before rejecting`)
  }
  return problems
}
