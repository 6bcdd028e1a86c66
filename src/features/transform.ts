import type { FeatureSpec } from '../config/schema.js'
import { FreshetError } from '../core/errors.js'
import { categoricalEmitter, fitCategorical, type FittedCategorical } from './categorical.js'
import { crossEmitter, fitCross, type FittedCross } from './cross.js'
import { biasFeature, reservedTokens, SlotHasher } from './hashing.js'
import { fitNumeric, numericEmitter, type FittedNumeric } from './numeric.js'
import { CsrBuilder, type SparseMatrix } from './sparse.js'
import { fitText, textEmitter, type FittedText } from './text.js'

/**
 * Rows of data stored column by column. `columns[name][r]` is row `r`'s value of `name`, for `r < length`.
 * Values are strings, numbers, booleans, bigints, Dates, null or undefined; numeric columns may be typed arrays
 * (NaN means missing).
 */
export interface ColumnarBatch {
  length: number
  columns: Record<string, ArrayLike<unknown>>
}

/** One fitted feature of a {@link FittedTransform}, discriminated by `type`. */
export type FittedFeature = FittedNumeric | FittedCategorical | FittedText | FittedCross

/**
 * Everything needed to turn raw rows into feature vectors, fitted on training data: a plain JSON-serialisable
 * object saved inside the model artifact. `JSON.parse(JSON.stringify(fitted))` transforms identically.
 */
export interface FittedTransform {
  format: 1
  hashBits: number
  hashSeed: number
  /** In the order of the feature spec. */
  features: FittedFeature[]
}

/** Options of {@link fitTransform}. */
export interface FitTransformOptions {
  /** Width of the hashed feature space: 2^hashBits slots. Integer from 1 to 30. */
  hashBits: number
  /** Seed of MurmurHash3. Default 0. */
  hashSeed?: number
}

/**
 * Fits the feature transform of `features` (feature name -> spec) on a training batch: numeric statistics and
 * quantile buckets, categorical value counts, text options.
 * @throws FreshetError `USAGE` when a column a feature needs is not in the batch, `hashBits` is out of range, or
 * a spec is inconsistent (e.g. bucket boundaries out of order).
 */
export function fitTransform(
  features: Record<string, FeatureSpec>,
  batch: ColumnarBatch,
  options: FitTransformOptions,
): FittedTransform {
  const hashBits = options.hashBits
  if (!Number.isInteger(hashBits) || hashBits < 1 || hashBits > 30) {
    throw new FreshetError('USAGE', `hashBits must be an integer from 1 to 30, got ${hashBits}`)
  }
  const fitted: FittedFeature[] = []
  for (const [name, spec] of Object.entries(features)) {
    switch (spec.type) {
      case 'numeric':
        fitted.push(fitNumeric(name, spec, columnOf(batch, name, name), batch.length))
        break
      case 'categorical':
        fitted.push(fitCategorical(name, spec, columnOf(batch, name, name), batch.length))
        break
      case 'text':
        fitted.push(fitText(name, spec, columnOf(batch, name, name), batch.length))
        break
      case 'cross':
        for (const column of spec.columns) columnOf(batch, column, name)
        fitted.push(fitCross(name, spec))
        break
    }
  }
  return { format: 1, hashBits, hashSeed: options.hashSeed ?? 0, features: fitted }
}

// One hasher per (bits, seed), reused by every call: transform is synchronous, so its scratch buffer is never
// shared by two calls at once.
const hashers = new Map<string, SlotHasher>()
function sharedHasher(bits: number, seed: number): SlotHasher {
  const key = `${bits}:${seed}`
  let hasher = hashers.get(key)
  if (hasher === undefined) {
    hasher = new SlotHasher(bits, seed)
    hashers.set(key, hasher)
  }
  return hasher
}

/**
 * Turns a batch into hashed sparse feature vectors, one row per batch row, `cols = 2^hashBits`. Every row has the
 * bias slot (value 1). Within a row, indices are ascending and entries that hash to the same slot are summed.
 * This is the only implementation: serving goes through it too ({@link transformRows}).
 * @throws FreshetError `USAGE` when a column the features need is not in the batch or `fitted` is not a fitted
 * transform of this version.
 */
export function transform(fitted: FittedTransform, batch: ColumnarBatch): SparseMatrix {
  if (fitted.format !== 1) {
    throw new FreshetError(
      'USAGE',
      `unsupported fitted transform format ${String(fitted.format)}; retrain the model with this Freshet version`,
    )
  }
  const hasher = sharedHasher(fitted.hashBits, fitted.hashSeed)
  // Every feature but text emits at most one entry per row (plus the bias); text rows are guessed at 64.
  const perRow = fitted.features.reduce((n, f) => n + (f.type === 'text' ? 64 : 1), 1)
  const out = new CsrBuilder(batch.length, 2 ** fitted.hashBits, batch.length * perRow)
  const emitters: Array<(row: number) => void> = []
  for (const feature of fitted.features) {
    switch (feature.type) {
      case 'numeric':
        emitters.push(numericEmitter(feature, columnOf(batch, feature.name, feature.name), hasher, out))
        break
      case 'categorical':
        emitters.push(categoricalEmitter(feature, columnOf(batch, feature.name, feature.name), hasher, out))
        break
      case 'text':
        emitters.push(textEmitter(feature, columnOf(batch, feature.name, feature.name), hasher, out))
        break
      case 'cross':
        emitters.push(
          crossEmitter(
            feature,
            feature.columns.map((c) => columnOf(batch, c, feature.name)),
            hasher,
            out,
          ),
        )
        break
    }
  }
  const biasSlot = hasher.slot(hasher.prefix(biasFeature), reservedTokens.bias)
  for (let r = 0; r < batch.length; r++) {
    out.add(biasSlot, 1)
    for (const emit of emitters) emit(r)
    out.endRow()
  }
  return out.finish()
}

/**
 * The serving path: row objects (e.g. predict `instances`) through the same {@link transform} as training, by
 * building a {@link ColumnarBatch} of the columns the features read. An absent field is a missing value; validate
 * instances with `validateInstance` first to reject ill-typed values.
 */
export function transformRows(
  fitted: FittedTransform,
  rows: ReadonlyArray<Record<string, unknown>>,
): SparseMatrix {
  const columns: Record<string, unknown[]> = {}
  for (const name of inputColumns(fitted)) {
    const values = new Array<unknown>(rows.length)
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r]!
      values[r] = Object.hasOwn(row, name) ? row[name] : undefined
    }
    columns[name] = values
  }
  return transform(fitted, { length: rows.length, columns })
}

/** The input columns the features read, each once, in feature order. */
export function inputColumns(fitted: Pick<FittedTransform, 'features'>): string[] {
  const names = new Set<string>()
  for (const feature of fitted.features) {
    if (feature.type === 'cross') for (const c of feature.columns) names.add(c)
    else names.add(feature.name)
  }
  return [...names]
}

function columnOf(batch: ColumnarBatch, column: string, feature: string): ArrayLike<unknown> {
  const values = Object.hasOwn(batch.columns, column) ? batch.columns[column] : undefined
  if (values === undefined) {
    const known = Object.keys(batch.columns)
    throw new FreshetError(
      'USAGE',
      `feature ${JSON.stringify(feature)} reads column ${JSON.stringify(column)}, which is not in the data`,
      {
        column,
        hint: `columns in the data: ${known.slice(0, 20).join(', ')}${known.length > 20 ? ', ...' : ''}`,
      },
    )
  }
  if (values.length < batch.length) {
    throw new FreshetError(
      'USAGE',
      `column ${JSON.stringify(column)} has ${values.length} values, the batch has ${batch.length} rows`,
      { column },
    )
  }
  return values
}
