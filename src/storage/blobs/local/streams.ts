import type { Readable } from 'node:stream'
import { FreshetError } from '../../../core/errors.js'

export function abortedError(key: string, signal: AbortSignal): FreshetError {
  return new FreshetError('ABORTED', `the blob operation on key ${JSON.stringify(key)} was aborted`, {
    cause: signal.reason,
  })
}

export function throwIfAborted(key: string, signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw abortedError(key, signal)
}

function toBytes(key: string, chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8')
  throw new FreshetError(
    'INPUT_MALFORMED',
    `the stream for blob key ${JSON.stringify(key)} yielded a non-byte chunk`,
    {
      hint: 'pass a byte stream (Buffer or Uint8Array chunks), not an object-mode stream',
    },
  )
}

/**
 * The chunks of `body` as bytes, one at a time. An abort ends the wait for the next chunk at once, even when the
 * body never yields again, and the body is then closed (a `Readable` is destroyed).
 * @throws FreshetError `ABORTED` when `signal` fires
 */
export async function* chunksOf(
  key: string,
  body: Readable | AsyncIterable<Uint8Array>,
  signal: AbortSignal | undefined,
): AsyncGenerator<Uint8Array, void, undefined> {
  const iterator = (body as AsyncIterable<unknown>)[Symbol.asyncIterator]()
  let done = false
  let onAbort: (() => void) | undefined
  const aborted = new Promise<never>((_resolve, reject) => {
    if (signal === undefined) return
    onAbort = () => reject(abortedError(key, signal))
    signal.addEventListener('abort', onAbort, { once: true })
  })
  // Raced below; this only keeps an abort between two chunks from counting as an unhandled rejection.
  aborted.catch(() => undefined)
  try {
    for (;;) {
      throwIfAborted(key, signal)
      const next =
        signal === undefined ? await iterator.next() : await Promise.race([iterator.next(), aborted])
      if (next.done === true) {
        done = true
        return
      }
      yield toBytes(key, next.value)
    }
  } finally {
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort)
    // Not awaited: a body stuck in a pending read would never settle the return.
    if (!done) void Promise.resolve(iterator.return?.()).catch(() => undefined)
  }
}
