import { describe, expect, it } from 'vitest'
import { mulberry32 } from '../core/random.js'
import { auc, bestF1, binaryMetrics, regressionMetrics, reliability, thresholdMetrics } from './metrics.js'

describe('auc', () => {
  it('matches hand-computed values, ties counting one half', () => {
    expect(auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBe(0.75)
    expect(auc([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9])).toBe(0.875)
    expect(auc([0, 1, 1, 0, 1], [0.3, 0.3, 0.3, 0.3, 0.3])).toBe(0.5)
    expect(auc([0, 0, 1], [0.1, 0.2, 0.9])).toBe(1)
    expect(auc([1, 1, 0], [0.1, 0.2, 0.9])).toBe(0)
  })

  it('is NaN when only one class is present', () => {
    expect(auc([1, 1], [0.2, 0.4])).toBeNaN()
  })

  it('equals the pairwise definition on random scores with many ties', () => {
    const random = mulberry32(7)
    const n = 300
    const y = Array.from({ length: n }, () => (random() < 0.3 ? 1 : 0))
    const p = Array.from({ length: n }, () => Math.round(random() * 20) / 20)
    let wins = 0
    let pairs = 0
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (y[i] !== 1 || y[j] !== 0) continue
        pairs++
        wins += p[i]! > p[j]! ? 1 : p[i] === p[j] ? 0.5 : 0
      }
    }
    expect(auc(y, p)).toBeCloseTo(wins / pairs, 12)
  })
})

describe('binaryMetrics', () => {
  it('computes mean log loss with clipped probabilities', () => {
    expect(binaryMetrics([1, 0], [0.8, 0.3]).logLoss).toBeCloseTo(-(Math.log(0.8) + Math.log(0.7)) / 2, 12)
    expect(binaryMetrics([0], [1]).logLoss).toBeCloseTo(-Math.log(1e-15), 2) // finite, not Infinity
  })

  it('counts the confusion matrix at 0.5 (a score of exactly 0.5 is positive)', () => {
    const m = thresholdMetrics([1, 1, 0, 0, 1], [0.9, 0.4, 0.6, 0.1, 0.5], 0.5)
    expect(m).toMatchObject({
      truePositives: 2,
      falsePositives: 1,
      trueNegatives: 1,
      falseNegatives: 1,
      accuracy: 0.6,
    })
    expect(m.precision).toBeCloseTo(2 / 3, 12)
    expect(m.recall).toBeCloseTo(2 / 3, 12)
    expect(m.f1).toBeCloseTo(2 / 3, 12)
  })

  it('finds the threshold with the best F1 and reports it', () => {
    const m = bestF1([1, 1, 0, 0, 1], [0.9, 0.4, 0.6, 0.1, 0.5])
    expect(m.threshold).toBe(0.4)
    expect(m.f1).toBeCloseTo(6 / 7, 12)
    expect(m).toMatchObject({ truePositives: 3, falsePositives: 1, precision: 0.75, recall: 1 })
  })

  it('gives precision, recall and F1 of 0 instead of dividing by zero', () => {
    expect(thresholdMetrics([0, 0], [0.1, 0.2], 0.5)).toMatchObject({
      precision: 0,
      recall: 0,
      f1: 0,
      accuracy: 1,
    })
  })

  it('reports calibration overall and in ten bins', () => {
    const y = [0, 1, 1, 1, 0]
    const p = [0.05, 0.15, 0.95, 1, 0.92]
    const m = binaryMetrics(y, p)
    expect(m.calibration.meanPredicted).toBeCloseTo(3.07 / 5, 12)
    expect(m.calibration.observedRate).toBe(0.6)
    const bins = reliability(y, p)
    expect(bins).toHaveLength(10)
    expect(bins[0]).toMatchObject({ lower: 0, count: 1, meanPredicted: 0.05, observedRate: 0 })
    expect(bins[9]!.count).toBe(3)
    expect(bins[9]!.observedRate).toBeCloseTo(2 / 3, 12)
    expect(bins[5]!.meanPredicted).toBeNaN()
  })

  it('rejects labels that are not 0/1, probabilities outside [0, 1] and mismatched lengths', () => {
    expect(() => binaryMetrics([2], [0.5])).toThrowError('row 0: label 2 is not 0 or 1')
    expect(() => binaryMetrics([1, 0], [0.5, Number.NaN])).toThrowError(
      'row 1: prediction NaN is not a probability in [0, 1]',
    )
    expect(() => binaryMetrics([1], [0.5, 0.2])).toThrowError('1 labels but 2 predictions')
  })
})

describe('regressionMetrics', () => {
  it('computes RMSE, MAE and R²', () => {
    const m = regressionMetrics([1, 2, 3], [1, 2, 4])
    expect(m.rmse).toBeCloseTo(Math.sqrt(1 / 3), 12)
    expect(m.mae).toBeCloseTo(1 / 3, 12)
    expect(m.r2).toBeCloseTo(0.5, 12)
    expect(regressionMetrics([2, 2], [2, 2]).r2).toBeNaN()
  })
})
