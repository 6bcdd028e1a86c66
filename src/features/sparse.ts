/**
 * A sparse matrix in compressed sparse row (CSR) form: row `r` has the entries
 * `indices[indptr[r] .. indptr[r + 1])` with `values` at the same positions.
 *
 * Invariants of every matrix the transform produces: `indptr.length === rows + 1`, `indptr[0] === 0`,
 * within a row `indices` are strictly ascending (duplicates were summed) and no stored value is 0;
 * every index is `< cols`.
 */
export interface SparseMatrix {
  rows: number
  /** Number of columns: `2 ** hashBits` for hashed features. */
  cols: number
  indptr: Uint32Array
  indices: Uint32Array
  values: Float32Array
}

/** Shift for packing (slot, position) into one float64 sort key: slots < 2^30, positions < 2^22. */
const POSITION_BITS = 2 ** 22
/** Rows up to this length are sorted by insertion sort, longer ones by the packed native sort. */
const INSERTION_SORT_MAX = 24

/**
 * Builds a CSR matrix row by row: `add(slot, value)` any number of times, then `endRow()`. Entries of a row are
 * sorted by slot and duplicates summed in `endRow()`, so callers can add in any order.
 */
export class CsrBuilder {
  private rowSlots = new Uint32Array(32)
  private rowValues = new Float64Array(32)
  // Scratch space of the packed sort, allocated only when a row is long enough to need it.
  private keys = new Float64Array(0)
  private keys2 = new Float64Array(0)
  private rowLength = 0
  private indptr: Uint32Array
  private indices: Uint32Array
  private values: Float32Array
  private nnz = 0
  private row = 0

  /**
   * @param expectedRows rows that will be ended before `finish()`.
   * @param entriesHint expected total entries; a good guess avoids regrowing the output arrays.
   */
  constructor(
    private readonly expectedRows: number,
    private readonly cols: number,
    entriesHint = 1024,
  ) {
    this.indptr = new Uint32Array(expectedRows + 1)
    const capacity = Math.max(16, Math.min(entriesHint, 2 ** 27))
    this.indices = new Uint32Array(capacity)
    this.values = new Float32Array(capacity)
  }

  /** Adds `value` at column `slot` of the current row; zeros are skipped. */
  add(slot: number, value: number): void {
    if (value === 0) return
    if (this.rowLength === this.rowSlots.length) this.growRow()
    this.rowSlots[this.rowLength] = slot
    this.rowValues[this.rowLength] = value
    this.rowLength++
  }

  /** Finishes the current row: sorts its entries by slot, sums duplicates and drops exact zeros. */
  endRow(): void {
    const n = this.rowLength
    if (this.nnz + n > this.indices.length) this.growOutput(this.nnz + n)
    if (n === 1) {
      this.push(this.rowSlots[0]!, this.rowValues[0]!)
    } else if (n > 1) {
      if (n <= INSERTION_SORT_MAX) this.insertionSortRow(n)
      else this.packedSortRow(n)
      const slots = this.rowSlots
      const values = this.rowValues
      let slot = slots[0]!
      let sum = values[0]!
      for (let i = 1; i < n; i++) {
        const s = slots[i]!
        if (s === slot) {
          sum += values[i]!
        } else {
          this.push(slot, sum)
          slot = s
          sum = values[i]!
        }
      }
      this.push(slot, sum)
    }
    this.rowLength = 0
    this.row++
    this.indptr[this.row] = this.nnz
  }

  /** The finished matrix; the builder must not be used afterwards. */
  finish(): SparseMatrix {
    if (this.row !== this.expectedRows)
      throw new Error(`CsrBuilder: ${this.row} rows ended, ${this.expectedRows} expected`)
    return {
      rows: this.row,
      cols: this.cols,
      indptr: this.indptr,
      // Views when the guess was close (tabular rows), copies when much capacity would be held for nothing.
      indices:
        this.nnz >= 0.9 * this.indices.length
          ? this.indices.subarray(0, this.nnz)
          : this.indices.slice(0, this.nnz),
      values:
        this.nnz >= 0.9 * this.values.length
          ? this.values.subarray(0, this.nnz)
          : this.values.slice(0, this.nnz),
    }
  }

  /** Stable in-place sort of the row's (slot, value) pairs by slot: fastest for the short rows of tabular data. */
  private insertionSortRow(n: number): void {
    const slots = this.rowSlots
    const values = this.rowValues
    for (let i = 1; i < n; i++) {
      const s = slots[i]!
      const v = values[i]!
      let j = i - 1
      while (j >= 0 && slots[j]! > s) {
        slots[j + 1] = slots[j]!
        values[j + 1] = values[j]!
        j--
      }
      slots[j + 1] = s
      values[j + 1] = v
    }
  }

  /**
   * Stable sort of long rows (text): packing (slot, position) into one float64 lets the native numeric sort order
   * them with no comparator callback; the position keeps equal slots in insertion order.
   */
  private packedSortRow(n: number): void {
    if (this.keys.length < n) {
      this.keys = new Float64Array(this.rowSlots.length)
      this.keys2 = new Float64Array(this.rowSlots.length)
    }
    const keys = this.keys.subarray(0, n)
    for (let i = 0; i < n; i++) keys[i] = this.rowSlots[i]! * POSITION_BITS + i
    keys.sort()
    const values = this.keys2.subarray(0, n)
    values.set(this.rowValues.subarray(0, n))
    for (let i = 0; i < n; i++) {
      const key = keys[i]!
      const slot = Math.floor(key / POSITION_BITS)
      this.rowSlots[i] = slot
      this.rowValues[i] = values[key - slot * POSITION_BITS]!
    }
  }

  private push(slot: number, value: number): void {
    const v = Math.fround(value)
    if (v === 0) return
    this.indices[this.nnz] = slot
    this.values[this.nnz] = v
    this.nnz++
  }

  private growRow(): void {
    const size = this.rowSlots.length * 2
    if (size > POSITION_BITS) throw new RangeError(`a row has more than ${POSITION_BITS} feature entries`)
    const slots = new Uint32Array(size)
    slots.set(this.rowSlots)
    const values = new Float64Array(size)
    values.set(this.rowValues)
    this.rowSlots = slots
    this.rowValues = values
  }

  private growOutput(needed: number): void {
    // Projected from the rows ended so far (long texts are far above any guess): a big matrix then grows once or
    // twice instead of doubling a dozen times, and `finish` keeps a view instead of copying.
    const projected = this.row > 0 ? Math.ceil((needed / (this.row + 1)) * this.expectedRows * 1.05) : 0
    let size = Math.max(this.indices.length * 2, Math.min(projected, 2 ** 30))
    while (size < needed) size *= 2
    const indices = new Uint32Array(size)
    indices.set(this.indices.subarray(0, this.nnz))
    const values = new Float32Array(size)
    values.set(this.values.subarray(0, this.nnz))
    this.indices = indices
    this.values = values
  }
}

/**
 * The rows `rowIndices` of `x`, in that order (e.g. the train or test side of a split).
 * @throws RangeError when an index is out of range.
 */
export function takeRows(x: SparseMatrix, rowIndices: ArrayLike<number>): SparseMatrix {
  const n = rowIndices.length
  const indptr = new Uint32Array(n + 1)
  let nnz = 0
  for (let i = 0; i < n; i++) {
    const r = rowIndices[i]!
    if (!(r >= 0 && r < x.rows)) throw new RangeError(`row ${r} is out of range (0..${x.rows - 1})`)
    nnz += x.indptr[r + 1]! - x.indptr[r]!
    indptr[i + 1] = nnz
  }
  const indices = new Uint32Array(nnz)
  const values = new Float32Array(nnz)
  for (let i = 0; i < n; i++) {
    const r = rowIndices[i]!
    const start = x.indptr[r]!
    const end = x.indptr[r + 1]!
    indices.set(x.indices.subarray(start, end), indptr[i])
    values.set(x.values.subarray(start, end), indptr[i])
  }
  return { rows: n, cols: x.cols, indptr, indices, values }
}

/** Largest number of stored entries in one row (learners size their per-row scratch buffers with it). */
export function maxRowLength(x: SparseMatrix): number {
  let max = 0
  for (let r = 0; r < x.rows; r++) {
    const len = x.indptr[r + 1]! - x.indptr[r]!
    if (len > max) max = len
  }
  return max
}
