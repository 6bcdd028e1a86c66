import { describe, expect, it } from 'vitest'
import { isFreshetError } from '../../core/errors.js'
import { auc, regressionMetrics } from '../../evaluation/metrics.js'
import { takeRows } from '../../features/sparse.js'
import { syntheticData } from '../synthetic.js'
import type { ModelWeights, TrainingData, TrainingProgress } from '../trainer.js'
import { deserializeWeights, serializeWeights } from '../weights.js'
import { createLinearTrainer } from './linear-trainer.js'

const train = syntheticData({ rows: 20_000, hashBits: 12, cardinality: 50, seed: 3 })
const test = syntheticData({ rows: 5_000, hashBits: 12, cardinality: 50, seed: 4 })
// Held-out evaluation needs rows of the same true model: the tail of one larger sample.
const sample = syntheticData({ rows: 25_000, hashBits: 12, cardinality: 50, seed: 5 })
const head = range(0, 20_000)
const tail = range(20_000, 25_000)
const sampleTrain: TrainingData = {
  x: takeRows(sample.x, head),
  y: sample.y.slice(0, 20_000),
  task: 'binary',
}
const sampleTest = { x: takeRows(sample.x, tail), y: sample.y.slice(20_000) }

/** Typed-array equality without a slow element-by-element deep diff. */
function sameBytes(
  a: Float32Array | Float64Array | undefined,
  b: Float32Array | Float64Array | undefined,
): boolean {
  return (
    a !== undefined &&
    b !== undefined &&
    Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    )
  )
}

function range(from: number, to: number): Uint32Array {
  return Uint32Array.from({ length: to - from }, (_, i) => from + i)
}

/** FTRL-Proximal exactly as written in Algorithm 1 of McMahan et al. (2013), with plain objects. */
function referenceFtrl(
  data: TrainingData,
  alpha: number,
  beta: number,
  l1: number,
  l2: number,
): { z: number[]; n: number[] } {
  const z = new Array<number>(data.x.cols).fill(0)
  const n = new Array<number>(data.x.cols).fill(0)
  for (let t = 0; t < data.x.rows; t++) {
    const entries: Array<[number, number]> = []
    for (let k = data.x.indptr[t]!; k < data.x.indptr[t + 1]!; k++)
      entries.push([data.x.indices[k]!, data.x.values[k]!])
    const w = new Map<number, number>()
    for (const [i] of entries) {
      const zi = z[i]!
      w.set(i, Math.abs(zi) <= l1 ? 0 : -(zi - Math.sign(zi) * l1) / ((beta + Math.sqrt(n[i]!)) / alpha + l2))
    }
    const dot = entries.reduce((s, [i, xi]) => s + w.get(i)! * xi, 0)
    const p = 1 / (1 + Math.exp(-dot))
    for (const [i, xi] of entries) {
      const g = (p - data.y[t]!) * xi
      const sigma = (Math.sqrt(n[i]! + g * g) - Math.sqrt(n[i]!)) / alpha
      z[i] = z[i]! + g - sigma * w.get(i)!
      n[i] = n[i]! + g * g
    }
  }
  return { z, n }
}

describe('linear trainer', () => {
  it('implements FTRL-Proximal as in McMahan et al. 2013, Algorithm 1', async () => {
    const small: TrainingData = {
      x: takeRows(train.x, range(0, 2_000)),
      y: train.y.slice(0, 2_000),
      task: 'binary',
    }
    const weights = await createLinearTrainer({ alpha: 0.2, beta: 1, l1: 0.5, l2: 2 }).fit(small)
    const reference = referenceFtrl(small, 0.2, 1, 0.5, 2)
    const z = weights.arrays.z!
    const n = weights.arrays.n!
    for (let i = 0; i < z.length; i++) {
      expect(z[i]).toBeCloseTo(reference.z[i]!, 9)
      expect(n[i]).toBeCloseTo(reference.n[i]!, 9)
    }
  })

  it.each(['ftrl', 'adagrad'] as const)(
    'learns a synthetic click model with %s (held-out AUC close to the true model)',
    async (optimizer) => {
      const trainer = createLinearTrainer({ optimizer, epochs: 3 })
      const weights = await trainer.fit(sampleTrain)
      const learned = auc(sampleTest.y, trainer.predict(weights, sampleTest.x))
      const dot = (r: number): number => {
        let s = 0
        for (let k = sampleTest.x.indptr[r]!; k < sampleTest.x.indptr[r + 1]!; k++)
          s += sample.trueWeights[sampleTest.x.indices[k]!]!
        return s
      }
      const oracle = auc(
        sampleTest.y,
        Float64Array.from({ length: sampleTest.x.rows }, (_, r) => 1 / (1 + Math.exp(-dot(r)))),
      )
      expect(learned).toBeGreaterThan(oracle - 0.03)
    },
  )

  it('fits a linear regression', async () => {
    const data = syntheticData({
      rows: 20_000,
      hashBits: 10,
      cardinality: 20,
      fields: 3,
      task: 'regression',
      scale: 0.5,
      seed: 9,
    })
    const trainer = createLinearTrainer({ alpha: 0.5, l1: 0, l2: 0, epochs: 5 })
    const weights = await trainer.fit(data)
    const m = regressionMetrics(data.y, trainer.predict(weights, data.x))
    expect(m.r2).toBeGreaterThan(0.95)
  })

  it('one pass over A then a warm start on B equals one pass over A followed by B (online learning)', async () => {
    for (const optimizer of ['ftrl', 'adagrad'] as const) {
      const trainer = createLinearTrainer({ optimizer })
      const first: TrainingData = {
        x: takeRows(train.x, range(0, 10_000)),
        y: train.y.slice(0, 10_000),
        task: 'binary',
      }
      const second: TrainingData = {
        x: takeRows(train.x, range(10_000, 20_000)),
        y: train.y.slice(10_000),
        task: 'binary',
      }
      const previous = await trainer.fit(first)
      const snapshot = serializeWeights(previous)
      const continued = await trainer.fit(second, { warmStart: previous })
      const whole = await trainer.fit(train)
      const [a, b] = optimizer === 'ftrl' ? ['z', 'n'] : ['w', 'g2']
      expect(sameBytes(continued.arrays[a], whole.arrays[a])).toBe(true)
      expect(sameBytes(continued.arrays[b], whole.arrays[b])).toBe(true)
      expect(continued.manifest.examples).toBe(20_000)
      expect(Buffer.from(serializeWeights(previous)).equals(snapshot)).toBe(true) // the previous model is not modified
    }
  })

  it('refuses a warm start from another width, optimizer or trainer', async () => {
    const previous = await createLinearTrainer().fit(train)
    const narrow = syntheticData({ rows: 10, hashBits: 10 })
    await expect(createLinearTrainer().fit(narrow, { warmStart: previous })).rejects.toThrowError(
      /from a model with hashBits 12/,
    )
    await expect(
      createLinearTrainer({ optimizer: 'adagrad' }).fit(train, { warmStart: previous }),
    ).rejects.toThrowError(/from a model with optimizer ftrl/)
    const other: ModelWeights = { manifest: { trainer: 'naive-bayes' }, arrays: {} }
    await expect(createLinearTrainer().fit(train, { warmStart: other })).rejects.toThrowError(
      /from a model with trainer naive-bayes/,
    )
  })

  it('shuffles epochs deterministically from the seed', async () => {
    const a = await createLinearTrainer({ epochs: 3, seed: 7 }).fit(test)
    const b = await createLinearTrainer({ epochs: 3, seed: 7 }).fit(test)
    const c = await createLinearTrainer({ epochs: 3, seed: 8 }).fit(test)
    expect(sameBytes(a.arrays.z, b.arrays.z) && sameBytes(a.arrays.n, b.arrays.n)).toBe(true)
    expect(sameBytes(a.arrays.z, c.arrays.z)).toBe(false)
  })

  it('keeps the model sparse with a strong L1 penalty', async () => {
    const nonZero = async (l1: number): Promise<number> => {
      const weights = await createLinearTrainer({ l1 }).fit(train)
      return weights.arrays.z!.filter((z) => Math.abs(z) > l1).length
    }
    const dense = await nonZero(0)
    expect(dense).toBeGreaterThan(300)
    expect(await nonZero(100)).toBeLessThan(dense / 5)
  })

  it('reports progress with examples, epoch and a falling running loss, and predicts the same after serialization', async () => {
    const progress: TrainingProgress[] = []
    const big = syntheticData({ rows: 200_000, hashBits: 14, seed: 11 })
    const trainer = createLinearTrainer({ epochs: 2 })
    const weights = await trainer.fit(big, { onProgress: (p) => progress.push(p) })
    expect(progress.map((p) => p.examples)).toEqual([
      65_536, 131_072, 196_608, 200_000, 265_536, 331_072, 396_608, 400_000,
    ])
    expect(progress.map((p) => p.epoch)).toEqual([1, 1, 1, 1, 2, 2, 2, 2])
    expect(progress.at(-1)!.loss).toBeLessThan(progress[0]!.loss)
    const restored = deserializeWeights(serializeWeights(weights))
    expect(sameBytes(trainer.predict(restored, big.x), trainer.predict(weights, big.x))).toBe(true)
  })

  it('stops with ABORTED when the signal aborts', async () => {
    const controller = new AbortController()
    const big = syntheticData({ rows: 200_000, hashBits: 12, seed: 12 })
    const run = createLinearTrainer().fit(big, {
      signal: controller.signal,
      onProgress: () => controller.abort(),
    })
    await expect(run).rejects.toSatisfy((error) => isFreshetError(error, 'ABORTED'))
  })

  it('rejects labels that do not fit the task and weights of another width', async () => {
    const bad: TrainingData = { ...test, y: test.y.map((v, i) => (i === 7 ? 2 : v)) }
    await expect(createLinearTrainer().fit(bad)).rejects.toThrowError(
      'row 7: label 2 is not valid for a binary task (expected 0 or 1)',
    )
    await expect(createLinearTrainer({ hashBits: 20 }).fit(test)).rejects.toThrowError(/hashBits 20/)
    const weights = await createLinearTrainer().fit(test)
    expect(() =>
      createLinearTrainer().predict(weights, syntheticData({ rows: 1, hashBits: 10 }).x),
    ).toThrowError(/expects 2\^12 feature slots/)
  })
})
