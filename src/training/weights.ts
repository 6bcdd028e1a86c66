import { FreshetError } from '../core/errors.js'
import type { ModelWeights } from './trainer.js'

/*
 * Layout of serialized weights (all integers little-endian):
 *   0  8 bytes  magic "FRSHTWTS"
 *   8  u32      format version (1)
 *  12  u32      byte length H of the header
 *  16  H bytes  header, UTF-8 JSON: { manifest, arrays: [{ name, dtype, length, offset }] }
 *      zero padding to a multiple of 8
 *      the arrays' raw little-endian bytes, in header order (sorted by name), each at an offset that is a multiple
 *      of 8 and immediately after the previous one (plus padding); nothing after the last.
 */

const MAGIC = 'FRSHTWTS'
const FORMAT = 1
const PREFIX = 16
const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

type DType = 'float32' | 'float64'

interface ArrayEntry {
  name: string
  dtype: DType
  length: number
  offset: number
}

const align8 = (n: number): number => Math.ceil(n / 8) * 8

/**
 * Serializes weights into one byte array (for the registry to store and sha256). Deterministic: the same weights
 * give the same bytes (arrays sorted by name, manifest as `JSON.stringify` writes it).
 * @throws FreshetError `USAGE` when the manifest is not JSON-serialisable.
 */
export function serializeWeights(weights: ModelWeights): Uint8Array {
  const names = Object.keys(weights.arrays).sort()
  const entries: ArrayEntry[] = []
  let manifestJson: string
  try {
    manifestJson = JSON.stringify(weights.manifest)
  } catch (cause) {
    throw new FreshetError('USAGE', 'the model manifest is not JSON-serialisable', { cause })
  }
  const layout = (headerLength: number): number => {
    entries.length = 0
    let offset = align8(PREFIX + headerLength)
    for (const name of names) {
      const array = weights.arrays[name]!
      entries.push({
        name,
        dtype: array instanceof Float32Array ? 'float32' : 'float64',
        length: array.length,
        offset,
      })
      offset = align8(offset + array.byteLength)
    }
    return offset
  }
  // Offsets depend on the header's length and the header holds the offsets: lay out until the length settles.
  let header = new Uint8Array(0)
  let total = 0
  for (let previous = -1; header.length !== previous;) {
    previous = header.length
    total = layout(previous)
    header = new TextEncoder().encode(`{"manifest":${manifestJson},"arrays":${JSON.stringify(entries)}}`)
  }
  const bytes = new Uint8Array(total)
  const view = new DataView(bytes.buffer)
  bytes.set(new TextEncoder().encode(MAGIC), 0)
  view.setUint32(8, FORMAT, true)
  view.setUint32(12, header.length, true)
  bytes.set(header, PREFIX)
  for (const entry of entries) writeArray(bytes, entry.offset, weights.arrays[entry.name]!)
  return bytes
}

/**
 * Reads weights written by {@link serializeWeights}. The arrays are fresh copies (safe to keep and mutate).
 * @throws FreshetError `INPUT_MALFORMED` when the bytes are not serialized weights of a known format, or are
 * truncated, padded or inconsistent.
 */
export function deserializeWeights(bytes: Uint8Array): ModelWeights {
  if (bytes.length < PREFIX || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC)
    malformed('they do not start with the Freshet weights magic')
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const format = view.getUint32(8, true)
  if (format !== FORMAT) malformed(`format ${format} is not supported (expected ${FORMAT}); upgrade Freshet`)
  const headerLength = view.getUint32(12, true)
  if (PREFIX + headerLength > bytes.length) malformed('the header runs past the end')
  let header: unknown
  try {
    header = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(PREFIX, PREFIX + headerLength)),
    )
  } catch (cause) {
    malformed('the header is not valid JSON', cause)
  }
  if (!isRecord(header) || !isRecord(header.manifest) || !Array.isArray(header.arrays))
    malformed('the header lacks a manifest or arrays')
  const arrays: Record<string, Float32Array | Float64Array> = {}
  let expected = align8(PREFIX + headerLength)
  for (const entry of header.arrays as unknown[]) {
    if (!isEntry(entry)) malformed(`bad array entry ${JSON.stringify(entry)}`)
    if (Object.hasOwn(arrays, entry.name)) malformed(`array ${JSON.stringify(entry.name)} appears twice`)
    if (entry.offset !== expected)
      malformed(`array ${JSON.stringify(entry.name)} is at offset ${entry.offset}, expected ${expected}`)
    const width = entry.dtype === 'float32' ? 4 : 8
    if (entry.offset + entry.length * width > bytes.length)
      malformed(`array ${JSON.stringify(entry.name)} runs past the end`)
    arrays[entry.name] = readArray(view, entry)
    expected = align8(entry.offset + entry.length * width)
  }
  if (expected !== bytes.length) malformed(`${bytes.length - expected} unexpected bytes at the end`)
  return { manifest: header.manifest, arrays }
}

function writeArray(bytes: Uint8Array, offset: number, array: Float32Array | Float64Array): void {
  if (hostIsLittleEndian) {
    bytes.set(new Uint8Array(array.buffer, array.byteOffset, array.byteLength), offset)
    return
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset)
  const width = array instanceof Float32Array ? 4 : 8
  for (let i = 0; i < array.length; i++) {
    if (width === 4) view.setFloat32(offset + i * 4, array[i]!, true)
    else view.setFloat64(offset + i * 8, array[i]!, true)
  }
}

function readArray(view: DataView, entry: ArrayEntry): Float32Array | Float64Array {
  const array = entry.dtype === 'float32' ? new Float32Array(entry.length) : new Float64Array(entry.length)
  const start = view.byteOffset + entry.offset
  if (hostIsLittleEndian) {
    new Uint8Array(array.buffer).set(new Uint8Array(view.buffer, start, array.byteLength))
    return array
  }
  for (let i = 0; i < array.length; i++) {
    array[i] =
      entry.dtype === 'float32'
        ? view.getFloat32(entry.offset + i * 4, true)
        : view.getFloat64(entry.offset + i * 8, true)
  }
  return array
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isEntry(value: unknown): value is ArrayEntry {
  return (
    isRecord(value) &&
    typeof value.name === 'string' &&
    (value.dtype === 'float32' || value.dtype === 'float64') &&
    Number.isSafeInteger(value.length) &&
    (value.length as number) >= 0 &&
    Number.isSafeInteger(value.offset)
  )
}

function malformed(reason: string, cause?: unknown): never {
  throw new FreshetError('INPUT_MALFORMED', `the model weights are malformed: ${reason}`, {
    ...(cause === undefined ? {} : { cause }),
    hint: 'the artifact is corrupt or was written by another program; retrain or restore the model version',
  })
}
