import { describe, expect, it } from 'vitest'
import type { SparseMatrix } from '../../features/sparse.js'
import type { TrainingData } from '../trainer.js'
import { deserializeWeights, serializeWeights } from '../weights.js'
import { createNaiveBayesTrainer } from './naive-bayes-trainer.js'

/** A CSR matrix with 4 columns from dense rows. */
function matrix(rows: number[][]): SparseMatrix {
  const indptr = [0]
  const indices: number[] = []
  const values: number[] = []
  for (const row of rows) {
    row.forEach((v, i) => {
      if (v !== 0) {
        indices.push(i)
        values.push(v)
      }
    })
    indptr.push(indices.length)
  }
  return {
    rows: rows.length,
    cols: 4,
    indptr: Uint32Array.from(indptr),
    indices: Uint32Array.from(indices),
    values: Float32Array.from(values),
  }
}

const data: TrainingData = {
  x: matrix([
    [0, 2, 1, 0],
    [0, 0, 1, 3],
  ]),
  y: Float64Array.from([1, 0]),
  task: 'binary',
}

describe('naive-bayes trainer', () => {
  it('scores by multinomial log-odds with Laplace smoothing over the seen slots', async () => {
    const trainer = createNaiveBayesTrainer()
    const weights = await trainer.fit(data)
    // counts1 = [0,2,1,0] (total 3), counts0 = [0,0,1,3] (total 4), 3 seen slots, smoothing 1, equal priors:
    // delta1 = log(3/6) - log(1/7), delta3 = log(1/6) - log(4/7); slot 0 was never seen and carries no evidence.
    const score = Math.log(3 / 6 / (1 / 7)) + Math.log(1 / 6 / (4 / 7))
    const [p] = trainer.predict(weights, matrix([[5, 1, 0, 1]]))
    expect(p).toBeCloseTo(1 / (1 + Math.exp(-score)), 12)
    expect(weights.manifest).toMatchObject({
      trainer: 'naive-bayes',
      positives: 1,
      negatives: 1,
      smoothing: 1,
      hashBits: 2,
    })
  })

  it('uses the smoothing from the spec', async () => {
    const trainer = createNaiveBayesTrainer({ smoothing: 0.5 })
    const weights = await trainer.fit(data)
    const [p] = trainer.predict(weights, matrix([[0, 1, 0, 0]]))
    const score = Math.log(2.5 / 4.5) - Math.log(0.5 / 5.5)
    expect(p).toBeCloseTo(1 / (1 + Math.exp(-score)), 12)
  })

  it('warm-starts by adding counts, and predicts the same after serialization', async () => {
    const trainer = createNaiveBayesTrainer()
    const more: TrainingData = { x: matrix([[1, 0, 0, 2]]), y: Float64Array.from([0]), task: 'binary' }
    const continued = await trainer.fit(more, { warmStart: await trainer.fit(data) })
    const all: TrainingData = {
      x: matrix([
        [0, 2, 1, 0],
        [0, 0, 1, 3],
        [1, 0, 0, 2],
      ]),
      y: Float64Array.from([1, 0, 0]),
      task: 'binary',
    }
    const whole = await trainer.fit(all)
    expect(continued.arrays).toEqual(whole.arrays)
    expect(continued.manifest).toEqual(whole.manifest)
    const restored = deserializeWeights(serializeWeights(whole))
    expect(trainer.predict(restored, all.x)).toEqual(trainer.predict(whole, all.x))
  })

  it('ranks spammy documents above hammy ones after training', async () => {
    const trainer = createNaiveBayesTrainer()
    const weights = await trainer.fit(data)
    const [spammy, hammy] = trainer.predict(
      weights,
      matrix([
        [0, 3, 0, 0],
        [0, 0, 0, 3],
      ]),
    )
    expect(spammy).toBeGreaterThan(0.9)
    expect(hammy).toBeLessThan(0.1)
  })

  it('refuses regression tasks', async () => {
    const trainer = createNaiveBayesTrainer()
    await expect(trainer.fit({ ...data, task: 'regression' })).rejects.toThrowError(
      /naive-bayes supports binary tasks only/,
    )
  })
})
