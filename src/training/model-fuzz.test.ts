/**
 * Model unit tests in the sense of Breck et al. 2019 ("Data Validation for Machine Learning", §5): rows generated
 * from a feature schema, edge values included, go through the feature transform and every built-in trainer; no
 * crash, no non-finite feature value, weight or prediction.
 */
import { describe, expect, it } from 'vitest'
import type { FeatureSpec } from '../config/schema.js'
import { categorical, cross, numeric, text } from '../features/helpers.js'
import type { SparseMatrix } from '../features/sparse.js'
import { fitTransform, transform, transformRows, type ColumnarBatch } from '../features/transform.js'
import { createTrainer, type BuiltInTrainerSpec } from './built-ins.js'
import { mulberry32 } from '../core/random.js'
import type { Task } from './trainer.js'
import { deserializeWeights, serializeWeights } from './weights.js'

const hashBits = 12

/** Columns by kind; each feature reads the column of its name, the crosses read two of them. */
const numericColumns = ['num', 'num_log', 'num_raw', 'num_quantiles', 'num_bounds'] as const
const categoricalColumns = ['cat', 'cat_rare', 'flag'] as const
const textColumns = ['txt', 'txt_bigrams'] as const

const features: Record<string, FeatureSpec> = {
  num: numeric(),
  num_log: numeric({ transform: 'log1p' }),
  num_raw: numeric({ transform: 'none', missing: 'zero' }),
  num_quantiles: numeric({ buckets: 4 }),
  num_bounds: numeric({ buckets: [-1, 0, 1e300] }),
  cat: categorical(),
  cat_rare: categorical({ minCount: 2 }),
  flag: categorical(),
  txt: text(),
  txt_bigrams: text({ bigrams: true, lowercase: false, maxTokens: 50 }),
  cat_x_flag: cross(['cat', 'flag']),
  num_x_txt: cross(['num', 'txt']),
}

const trainers: Array<{ spec: BuiltInTrainerSpec; task: Task }> = [
  { spec: { type: 'linear', optimizer: 'ftrl' }, task: 'binary' },
  { spec: { type: 'linear', optimizer: 'ftrl', epochs: 2 }, task: 'regression' },
  { spec: { type: 'linear', optimizer: 'adagrad' }, task: 'binary' },
  { spec: { type: 'linear', optimizer: 'adagrad', l1: 0.01, l2: 0.01 }, task: 'regression' },
  { spec: { type: 'naive-bayes' }, task: 'binary' },
]

/** Strings that cost time: one huge token, and more tokens than `maxTokens`. */
const longStrings: unknown[] = ['x'.repeat(100_000), 'word '.repeat(30_000)]

/** Edge values every column gets, whatever its kind. */
const anyEdges: unknown[] = [
  null,
  undefined,
  '',
  ' ',
  '\t\n ',
  '😀👍🏽 family 👨‍👩‍👧',
  'مرحبا بالعالم',
  'שָׁלוֹם',
  'e\u0301 a\u0308\u0304',
  '\ud800',
  'lone \udc00 low',
  '\u0000\u0001\u0002\u0003',
  'NaN',
  'Infinity',
  ' 3.5 ',
  '1e308',
  '-0',
  true,
  false,
  0,
  -0,
  1,
  -1,
  1e308,
  -1e308,
  1e-308,
  5e-324,
  Number.MAX_SAFE_INTEGER,
  -Number.MAX_SAFE_INTEGER,
  Number.MAX_VALUE,
  2n ** 70n,
  new Date(0),
  new Date(Number.NaN),
]

/** Extra edge values of numeric columns: non-finite numbers, which mean "missing". */
const numericEdges: unknown[] = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]

const words = ['free', 'money', 'Meeting', 'tomorrow', 'ÜBER', 'straße', '東京', 'naïve', '42', 'x']

type Row = Record<string, unknown>

/** Rows that walk each column through its edge values, with different strides so combinations vary. */
function edgeRows(): Row[] {
  const columns = [...numericColumns, ...categoricalColumns, ...textColumns]
  const rows: Row[] = []
  const pool = [...anyEdges, ...longStrings, ...numericEdges]
  for (let r = 0; r < pool.length * 3; r++) {
    const row: Row = {}
    columns.forEach((column, c) => {
      row[column] = pool[(r * (c + 1) + c) % pool.length]
    })
    rows.push(row)
  }
  return rows
}

/** Mostly ordinary values of each kind, with edge values mixed in at random (15% of cells). */
function randomRows(seed: number, count: number): Row[] {
  const random = mulberry32(seed)
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!
  const edge = (): unknown => {
    const u = random()
    return pick(u < 0.02 ? longStrings : u < 0.85 ? anyEdges : numericEdges)
  }
  const rows: Row[] = []
  for (let r = 0; r < count; r++) {
    const row: Row = {}
    for (const column of numericColumns) {
      const scale = 10 ** Math.floor(random() * 12 - 4)
      row[column] = random() < 0.15 ? edge() : (random() - 0.5) * scale
    }
    for (const column of categoricalColumns) {
      const ordinary = column === 'flag' ? random() < 0.5 : `v${Math.floor(random() ** 2 * 30)}`
      row[column] = random() < 0.15 ? edge() : ordinary
    }
    for (const column of textColumns) {
      const length = Math.floor(random() * 12)
      const ordinary = Array.from({ length }, () => pick(words)).join(pick([' ', ', ', '\n']))
      row[column] = random() < 0.15 ? edge() : ordinary
    }
    rows.push(row)
  }
  return rows
}

function columnar(rows: Row[]): ColumnarBatch {
  const columns: Record<string, unknown[]> = {}
  for (const column of [...numericColumns, ...categoricalColumns, ...textColumns]) {
    columns[column] = rows.map((row) => row[column])
  }
  return { length: rows.length, columns }
}

/** Labels of `task`: 0/1 (30% positive), or real values from ±5e-5 to ±5e5. */
function labels(rows: number, task: Task, random: () => number): Float64Array {
  return Float64Array.from({ length: rows }, () =>
    task === 'binary' ? (random() < 0.3 ? 1 : 0) : (random() - 0.5) * 10 ** Math.floor(random() * 11 - 4),
  )
}

/** Broken invariants of a transform output: non-finite or zero values, indices out of range or out of order. */
function matrixProblems(x: SparseMatrix, rows: number): string[] {
  const problems: string[] = []
  if (x.rows !== rows) problems.push(`${x.rows} rows, expected ${rows}`)
  if (x.indptr[0] !== 0 || x.indptr[x.rows] !== x.indices.length)
    problems.push('indptr does not span the entries')
  for (let r = 0; r < x.rows; r++) {
    for (let k = x.indptr[r]!; k < x.indptr[r + 1]!; k++) {
      const value = x.values[k]!
      if (!Number.isFinite(value) || value === 0)
        problems.push(`row ${r}: value ${value} at slot ${x.indices[k]}`)
      if (x.indices[k]! >= x.cols) problems.push(`row ${r}: index ${x.indices[k]} >= cols ${x.cols}`)
      if (k > x.indptr[r]! && !(x.indices[k]! > x.indices[k - 1]!))
        problems.push(`row ${r}: indices not ascending`)
    }
  }
  return problems
}

function sameMatrix(a: SparseMatrix, b: SparseMatrix): boolean {
  const bytes = (v: ArrayBufferView): Buffer => Buffer.from(v.buffer, v.byteOffset, v.byteLength)
  return (
    a.rows === b.rows &&
    a.cols === b.cols &&
    bytes(a.indptr).equals(bytes(b.indptr)) &&
    bytes(a.indices).equals(bytes(b.indices)) &&
    bytes(a.values).equals(bytes(b.values))
  )
}

/** A row for a failure message: bigints survive, long strings are cut. */
function describeRow(row: Row | undefined): string {
  const text = JSON.stringify(row, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) ?? 'undefined'
  return text.length > 300 ? `${text.slice(0, 300)}...` : text
}

/**
 * Fits the transform on `batch`, checks its output (and, given the same data as `rows`, that the serving path
 * gives identical vectors), then trains every built-in trainer twice (from scratch, then warm-started) and checks
 * the deserialized weights and the predictions. Returns what went wrong, empty when nothing did.
 */
async function check(batch: ColumnarBatch, rows: Row[] | undefined, seed: number): Promise<string[]> {
  const fitted = fitTransform(features, batch, { hashBits })
  const x = transform(fitted, batch)
  const problems = matrixProblems(x, batch.length).map((p) => `transform: ${p}`)
  if (rows !== undefined && !sameMatrix(transformRows(fitted, rows), x))
    problems.push('transformRows differs from transform')
  const stored = JSON.parse(JSON.stringify(fitted)) as typeof fitted
  if (!sameMatrix(transform(stored, batch), x))
    problems.push('the fitted transform transforms differently after a JSON round trip')
  const random = mulberry32(seed ^ 0x9e3779b9)
  for (const { spec, task } of trainers) {
    const name = `${spec.type}${'optimizer' in spec ? ` ${spec.optimizer}` : ''} ${task}`
    const trainer = createTrainer(spec)
    const y = labels(x.rows, task, random)
    const first = await trainer.fit({ x, y, task })
    const weights = deserializeWeights(
      serializeWeights(await trainer.fit({ x, y, task }, { warmStart: first })),
    )
    for (const [array, values] of Object.entries(weights.arrays)) {
      const bad = values.findIndex((v) => !Number.isFinite(v))
      if (bad >= 0) problems.push(`${name}: weight ${array}[${bad}] = ${values[bad]}`)
    }
    const predictions = trainer.predict(weights, x)
    const bad = predictions.findIndex(
      (p) => !Number.isFinite(p) || (task === 'binary' && !(p >= 0 && p <= 1)),
    )
    if (bad >= 0)
      problems.push(`${name}: prediction ${predictions[bad]} for row ${bad} ${describeRow(rows?.[bad])}`)
  }
  return problems
}

describe('model unit test: the transform and the built-in trainers on generated rows', () => {
  it('handle every edge value in every column without a crash or a non-finite number', async () => {
    const rows = edgeRows()
    expect(await check(columnar(rows), rows, 1)).toEqual([])
  })

  it('handle a few hundred random rows with edge values mixed in, for 24 seeds', async () => {
    const problems: string[] = []
    for (let seed = 1; seed <= 24; seed++) {
      const rows = randomRows(seed, 300)
      for (const p of await check(columnar(rows), rows, seed)) problems.push(`seed ${seed}: ${p}`)
    }
    expect(problems.slice(0, 20)).toEqual([])
  })

  it('handle numeric columns read as Float64Array, NaN and infinities included', async () => {
    const random = mulberry32(99)
    const edges = [0, -0, 1e308, -1e308, 1e-308, 5e-324, Number.MAX_SAFE_INTEGER, Number.MAX_VALUE]
    const length = 400
    const numbers = (): Float64Array =>
      Float64Array.from({ length }, () => {
        const u = random()
        if (u < 0.1) return edges[Math.floor(random() * edges.length)]!
        if (u < 0.2)
          return [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY][Math.floor(random() * 3)]!
        return (random() - 0.5) * 1000
      })
    const rows = randomRows(7, length)
    const batch = columnar(rows)
    for (const column of numericColumns) batch.columns[column] = numbers()
    expect(await check(batch, undefined, 7)).toEqual([])
  })

  // Found by this test: Welford's running sums overflowed (mean NaN, std Infinity -> 0) and values past the float32
  // range were stored as Infinity, which made FTRL's z and n NaN.
  it('standardize huge magnitudes with finite statistics and clamp raw values to the float32 range', () => {
    const values = [1e308, -1e308, 1, 1e200]
    const batch = { length: values.length, columns: { a: values, b: values } }
    const fitted = fitTransform({ a: numeric(), b: numeric({ transform: 'none' }) }, batch, { hashBits })
    const a = fitted.features[0]
    if (a?.type !== 'numeric') throw new Error('expected a numeric feature')
    // mean = (1e200 + 1) / 4; std = sqrt((2 * 1e308^2) / 4) = 1e308 / sqrt(2), the small values aside.
    expect(a.mean / 2.5e199).toBeCloseTo(1, 12)
    expect(a.std / (1e308 / Math.SQRT2)).toBeCloseTo(1, 12)
    const x = transform(fitted, batch)
    expect(matrixProblems(x, values.length)).toEqual([])
    // Row 0: a = (1e308 - mean) / std = sqrt(2); b = 1e308 clamped to the largest float32.
    const row0 = Array.from(x.values.subarray(0, x.indptr[1]))
    expect(row0).toContain(Math.fround(Math.SQRT2))
    expect(row0).toContain(Math.fround(3.4028234663852886e38))
  })
})
