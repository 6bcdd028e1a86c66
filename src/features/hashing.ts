import { Utf8Buffer } from './murmur3.js'

// Serving transforms one request at a time: encoding the same feature names again on every call was a third of its cost.
const prefixes = new Map<string, Uint8Array>()

/**
 * Maps namespaced feature names to slots: `slot = murmur3(utf8(feature + "\u0001" + token), seed) & (2^hashBits - 1)`.
 * The feature name prefix keeps equal tokens of different columns apart.
 */
export class SlotHasher {
  readonly mask: number
  private readonly buffer = new Utf8Buffer()
  private readonly encoder = new TextEncoder()

  constructor(
    readonly hashBits: number,
    readonly seed: number,
  ) {
    this.mask = 2 ** hashBits - 1
  }

  /** The encoded namespace prefix of a feature: its name followed by U+0001 (encoded once per name). */
  prefix(feature: string): Uint8Array {
    let prefix = prefixes.get(feature)
    if (prefix === undefined) {
      if (prefixes.size >= 10_000) prefixes.clear()
      prefix = this.encoder.encode(`${feature}\u0001`)
      prefixes.set(feature, prefix)
    }
    return prefix
  }

  /** The slot of `token` in the namespace `prefix`. */
  slot(prefix: Uint8Array, token: string): number {
    this.buffer.reset()
    this.buffer.appendBytes(prefix)
    this.buffer.appendString(token)
    return this.end()
  }

  /** Starts a name made of several pieces: `begin(prefix)`, `append*()`, then `end()` for its slot. */
  begin(prefix: Uint8Array): void {
    this.buffer.reset()
    this.buffer.appendBytes(prefix)
  }

  appendString(text: string): void {
    this.buffer.appendString(text)
  }

  appendByte(byte: number): void {
    this.buffer.appendByte(byte)
  }

  end(): number {
    return (this.buffer.hash(this.seed) & this.mask) >>> 0
  }
}

/** Tokens reserved for special slots; they start with U+0002, which no word token contains. */
export const reservedTokens = {
  bias: '\u0002bias',
  missing: '\u0002missing',
  rare: '\u0002rare',
  value: '',
  bucket: (index: number): string => `\u0002bucket${index}`,
} as const

/** The namespace of the bias slot (no feature has an empty name). */
export const biasFeature = ''
