import { open, readFile, writeFile } from 'node:fs/promises'
import type { SparseMatrix } from '../src/features/sparse.js'

/** A hashed feature matrix with its 0/1 labels, as the train benchmark hands it to every learner. */
export interface LabeledMatrix {
  readonly x: SparseMatrix
  readonly y: Float64Array
}

/*
 * Binary layout of a LabeledMatrix (little-endian): u32 rows, u32 cols, u32 nnz, u32 0, then y (f64 x rows),
 * indptr (u32 x rows+1), indices (u32 x nnz), values (f32 x nnz). Our learners read it back in milliseconds, so
 * their runs time the learner, not a text parser.
 */
const HEADER = 16

export async function writeMatrix(file: string, { x, y }: LabeledMatrix): Promise<void> {
  const nnz = x.indptr[x.rows]!
  const header = new Uint32Array([x.rows, x.cols, nnz, 0])
  const parts = [header, y, x.indptr, x.indices.subarray(0, nnz), x.values.subarray(0, nnz)]
  await writeFile(
    file,
    parts.map((p) => new Uint8Array(p.buffer, p.byteOffset, p.byteLength)),
  )
}

export async function readMatrix(file: string): Promise<LabeledMatrix> {
  const bytes = await readFile(file)
  // Typed-array views need aligned offsets; a large file read gets its own buffer at offset 0.
  const buffer =
    bytes.byteOffset % 8 === 0
      ? bytes.buffer
      : bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
  const base = bytes.byteOffset % 8 === 0 ? bytes.byteOffset : 0
  const [rows = 0, cols = 0, nnz = 0] = new Uint32Array(buffer, base, 4)
  let offset = base + HEADER
  const take = <T>(make: (b: ArrayBufferLike, o: number, n: number) => T, n: number, width: number): T => {
    const array = make(buffer, offset, n)
    offset += n * width
    return array
  }
  const y = take((b, o, n) => new Float64Array(b, o, n), rows, 8)
  const indptr = take((b, o, n) => new Uint32Array(b, o, n), rows + 1, 4)
  const indices = take((b, o, n) => new Uint32Array(b, o, n), nnz, 4)
  const values = take((b, o, n) => new Float32Array(b, o, n), nnz, 4)
  if (offset !== base + bytes.byteLength)
    throw new Error(`${file}: ${base + bytes.byteLength - offset} bytes left over`)
  return { x: { rows, cols, indptr, indices, values }, y }
}

/**
 * Writes svmlight / libsvm text: one `label index:value ...` line per row, 1-based indices ascending and unique (the
 * CSR invariants of our transform), labels 1 and 0. Values are the float32 values our learners see, written with
 * the fewest digits that read back as the same float32. Bytes are written straight into a buffer: building a
 * string per row took 7-14 s for flights' 2.4M rows, this 2-3 s.
 * @returns the number of bytes written.
 */
export async function writeSvmlight(file: string, { x, y }: LabeledMatrix): Promise<number> {
  const handle = await open(file, 'w')
  const encoder = new TextEncoder()
  const formatted = new Map<number, Uint8Array>()
  const valueBytes = (v: number): Uint8Array => {
    let bytes = formatted.get(v)
    if (bytes === undefined) {
      let text = String(v)
      for (let digits = 1; digits <= 9; digits++) {
        const candidate = v.toPrecision(digits)
        if (Math.fround(Number(candidate)) === v) {
          text = String(Number(candidate))
          break
        }
      }
      bytes = encoder.encode(text)
      if (formatted.size < 1_000_000) formatted.set(v, bytes)
    }
    return bytes
  }
  const buffer = new Uint8Array(1 << 22)
  let used = 0
  let written = 0
  const flush = async () => {
    await handle.write(buffer, 0, used)
    written += used
    used = 0
  }
  try {
    const { indptr, indices, values } = x
    for (let r = 0; r < x.rows; r++) {
      const from = indptr[r]!
      const to = indptr[r + 1]!
      // A row needs at most 2 + entries * (10 digits + ':' + value + ' ') bytes.
      let need = 2
      for (let k = from; k < to; k++) need += 12 + valueBytes(values[k]!).length
      if (used + need > buffer.length) await flush()
      if (need > buffer.length) throw new RangeError(`row ${r} is too long for the svmlight writer`)
      buffer[used++] = y[r] === 1 ? 0x31 : 0x30
      for (let k = from; k < to; k++) {
        buffer[used++] = 0x20
        used = writeDecimal(buffer, used, indices[k]! + 1)
        buffer[used++] = 0x3a
        const v = valueBytes(values[k]!)
        buffer.set(v, used)
        used += v.length
      }
      buffer[used++] = 0x0a
    }
    await flush()
  } finally {
    await handle.close()
  }
  return written
}

/** Writes the decimal digits of a non-negative integer at `at`; returns the position after them. */
function writeDecimal(buffer: Uint8Array, at: number, value: number): number {
  let digits = 1
  for (let v = value; v >= 10; v = Math.floor(v / 10)) digits++
  for (let i = at + digits - 1, v = value; i >= at; i--, v = Math.floor(v / 10)) buffer[i] = 0x30 + (v % 10)
  return at + digits
}
