/**
 * MurmurHash3, x86 32-bit variant (Austin Appleby, public domain), over the UTF-8 bytes of strings.
 *
 * The feature transform hashes every token with it, so it avoids allocating: strings are encoded into a reused
 * byte buffer (lone surrogates become U+FFFD, exactly as `TextEncoder` does) and hashed in place.
 */

const C1 = 0xcc9e2d51
const C2 = 0x1b873593

/**
 * MurmurHash3 x86 32-bit of `bytes[start, end)`.
 * @returns an unsigned 32-bit integer.
 */
export function murmur3Bytes(bytes: Uint8Array, start: number, end: number, seed: number): number {
  let h = seed | 0
  const blocksEnd = start + ((end - start) & ~3)
  let i = start
  for (; i < blocksEnd; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)
    k = Math.imul(k, C1)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, C2)
    h ^= k
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  const tail = end - i
  if (tail > 0) {
    let k = bytes[i]!
    if (tail > 1) k ^= bytes[i + 1]! << 8
    if (tail > 2) k ^= bytes[i + 2]! << 16
    k = Math.imul(k, C1)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, C2)
    h ^= k
  }
  h ^= end - start
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/**
 * A growable UTF-8 byte buffer that is reused between hashes: `reset()`, then `append*()`, then `hash()`.
 * Appending the pieces of a name (`column`, a separator, a token) hashes exactly like hashing the concatenated
 * string, without building it.
 */
export class Utf8Buffer {
  private bytes = new Uint8Array(256)
  /** Number of bytes written since the last `reset()`. */
  length = 0

  reset(): void {
    this.length = 0
  }

  /** Appends raw bytes (e.g. a pre-encoded prefix). */
  appendBytes(bytes: Uint8Array): void {
    const n = bytes.length
    this.reserve(n)
    // A plain loop beats TypedArray#set for the short name prefixes this is called with on every token.
    const out = this.bytes
    let p = this.length
    for (let i = 0; i < n; i++) out[p++] = bytes[i]!
    this.length = p
  }

  /** Appends one byte (0-255). */
  appendByte(byte: number): void {
    this.reserve(1)
    this.bytes[this.length++] = byte
  }

  /** Appends the UTF-8 encoding of `text`. */
  appendString(text: string): void {
    const n = text.length
    this.reserve(n * 3)
    const out = this.bytes
    let p = this.length
    for (let i = 0; i < n; i++) {
      let c = text.charCodeAt(i)
      if (c < 0x80) {
        out[p++] = c
        continue
      }
      if (c < 0x800) {
        out[p++] = 0xc0 | (c >> 6)
        out[p++] = 0x80 | (c & 0x3f)
        continue
      }
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = i + 1 < n ? text.charCodeAt(i + 1) : 0
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00)
          i++
          out[p++] = 0xf0 | (c >> 18)
          out[p++] = 0x80 | ((c >> 12) & 0x3f)
          out[p++] = 0x80 | ((c >> 6) & 0x3f)
          out[p++] = 0x80 | (c & 0x3f)
          continue
        }
        c = 0xfffd
      }
      out[p++] = 0xe0 | (c >> 12)
      out[p++] = 0x80 | ((c >> 6) & 0x3f)
      out[p++] = 0x80 | (c & 0x3f)
    }
    this.length = p
  }

  /** MurmurHash3 of the bytes written so far. */
  hash(seed: number): number {
    return murmur3Bytes(this.bytes, 0, this.length, seed)
  }

  /** A copy of the bytes written so far. */
  toBytes(): Uint8Array {
    return this.bytes.slice(0, this.length)
  }

  private reserve(extra: number): void {
    const needed = this.length + extra
    if (needed <= this.bytes.length) return
    let size = this.bytes.length * 2
    while (size < needed) size *= 2
    const grown = new Uint8Array(size)
    grown.set(this.bytes.subarray(0, this.length))
    this.bytes = grown
  }
}

const shared = new Utf8Buffer()

/**
 * MurmurHash3 x86 32-bit of the UTF-8 encoding of `text`.
 * @returns an unsigned 32-bit integer, e.g. `murmur3('hello', 0) === 0x248bfa47`.
 */
export function murmur3(text: string, seed = 0): number {
  shared.reset()
  shared.appendString(text)
  return shared.hash(seed)
}
