/**
 * Bytes to text in a MIME charset, with the WHATWG label rules (`iso-8859-1` and `us-ascii` mean windows-1252).
 */

export type Decode = (bytes: Uint8Array) => string

// windows-1252 0x80-0x9F. Node's ICU TextDecoder decodes this range as Latin-1 controls in some versions, so it is
// mapped here to give the same text on every Node release. Unassigned bytes keep their Latin-1 code point.
const cp1252High = '€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008DŽ\u008F\u0090‘’“”•–—˜™š›œ\u009DžŸ'

function decodeWindows1252(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    .toString('latin1')
    .replace(/[\u0080-\u009f]/g, (c) => cp1252High[c.charCodeAt(0) - 0x80] ?? c)
}

const decoders = new Map<string, Decode | null>()

/** A decoder for a MIME charset label (default utf-8), or `null` when the runtime does not know the label. */
export function decoderFor(charset: string | undefined): Decode | null {
  const label = (charset ?? '').trim().toLowerCase().split('*')[0] || 'utf-8'
  let decode = decoders.get(label)
  if (decode === undefined) {
    try {
      const decoder = new TextDecoder(label)
      decode = decoder.encoding === 'windows-1252' ? decodeWindows1252 : (bytes) => decoder.decode(bytes)
    } catch {
      decode = null
    }
    decoders.set(label, decode)
  }
  return decode
}

/** Decodes in the charset, or as utf-8 when the label is unknown. Invalid bytes become U+FFFD. */
export function decodeBytes(bytes: Uint8Array, charset: string | undefined): string {
  return (decoderFor(charset) ?? decodeUtf8)(bytes)
}

const utf8 = new TextDecoder()
const decodeUtf8: Decode = (bytes) => utf8.decode(bytes)
