import type { SparseMatrix } from '../features/sparse.js'
import { sigmoid } from './checks.js'
import { mulberry32 } from '../core/random.js'
import type { Task, TrainingData } from './trainer.js'

/** Options of {@link syntheticData}. */
export interface SyntheticOptions {
  rows: number
  /** Categorical fields per row (each one-hot), plus a bias slot. Default 7. */
  fields?: number
  /** Distinct values per field. Default 1000. */
  cardinality?: number
  hashBits?: number
  seed?: number
  task?: Task
  /** Scale of the true weights. Default 1. */
  scale?: number
}

/**
 * Seeded synthetic data for tests and benchmarks: each row has a bias slot and `fields` one-hot categorical
 * features (value frequencies skewed like real categories), hashed into 2^hashBits slots; labels follow a known
 * linear model (`trueWeights`) through a sigmoid (binary, Bernoulli draws) or with Gaussian noise (regression).
 */
export function syntheticData(options: SyntheticOptions): TrainingData & { trueWeights: Float64Array } {
  const {
    rows,
    fields = 7,
    cardinality = 1000,
    hashBits = 20,
    seed = 1,
    task = 'binary',
    scale = 1,
  } = options
  const random = mulberry32(seed)
  const mask = 2 ** hashBits - 1
  const gaussian = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
  const trueWeights = new Float64Array(mask + 1)
  for (let i = 0; i <= mask; i++) trueWeights[i] = gaussian() * scale
  trueWeights[0] = -0.5 * scale
  const perRow = fields + 1
  const indptr = new Uint32Array(rows + 1)
  const indices = new Uint32Array(rows * perRow)
  const values = new Float32Array(rows * perRow)
  const y = new Float64Array(rows)
  const row = new Uint32Array(perRow)
  let nnz = 0
  for (let r = 0; r < rows; r++) {
    row[0] = 0
    for (let f = 0; f < fields; f++) {
      const value = Math.floor(cardinality * random() ** 2)
      row[f + 1] = (Math.imul(f * cardinality + value + 1, 0x9e3779b1) >>> 0) & mask
    }
    row.sort()
    let dot = 0
    for (let k = 0; k < perRow; k++) {
      if (k > 0 && row[k] === row[k - 1]) {
        values[nnz - 1]! += 1
      } else {
        indices[nnz] = row[k]!
        values[nnz] = 1
        nnz++
      }
      dot += trueWeights[row[k]!]!
    }
    indptr[r + 1] = nnz
    y[r] = task === 'binary' ? (random() < sigmoid(dot) ? 1 : 0) : dot + 0.1 * gaussian()
  }
  const x: SparseMatrix = {
    rows,
    cols: mask + 1,
    indptr,
    indices: indices.slice(0, nnz),
    values: values.slice(0, nnz),
  }
  return { x, y, task, trueWeights }
}
