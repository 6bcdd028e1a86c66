import { describe, expect, it } from 'vitest'
import { isFreshetError } from '../core/errors.js'
import { categorical, cross, numeric, text } from './helpers.js'
import { murmur3 } from './murmur3.js'
import type { SparseMatrix } from './sparse.js'
import { fitTransform, transform, type ColumnarBatch, type FittedTransform } from './transform.js'

const hashBits = 18
const mask = 2 ** hashBits - 1
const slot = (feature: string, token: string): number => murmur3(`${feature}\u0001${token}`, 0) & mask
const bias = slot('', '\u0002bias')

function row(x: SparseMatrix, r: number): Map<number, number> {
  const entries = new Map<number, number>()
  for (let k = x.indptr[r]!; k < x.indptr[r + 1]!; k++) entries.set(x.indices[k]!, x.values[k]!)
  return entries
}

function fitAndTransform(
  features: Parameters<typeof fitTransform>[0],
  batch: ColumnarBatch,
): { fitted: FittedTransform; x: SparseMatrix } {
  const fitted = fitTransform(features, batch, { hashBits })
  return { fitted, x: transform(fitted, batch) }
}

describe('fitTransform', () => {
  it('fits numeric statistics, quantile buckets and missing counts', () => {
    const values = [1, 2, 3, 4, null, 5, 6, 7, 8, Number.NaN]
    const { fitted } = fitAndTransform(
      { d: numeric({ buckets: 4 }) },
      { length: values.length, columns: { d: values } },
    )
    const d = fitted.features[0]
    expect(d).toMatchObject({
      type: 'numeric',
      count: 8,
      missingCount: 2,
      mean: 4.5,
      min: 1,
      max: 8,
      buckets: [3, 5, 7],
    })
    expect(d?.type === 'numeric' && d.std).toBeCloseTo(Math.sqrt(5.25), 12)
  })

  it('keeps top values and, with minCount, the values that keep their own slot', () => {
    const colors = ['red', 'red', 'blue', 'red', 'green', 'blue', null]
    const { fitted } = fitAndTransform(
      { color: categorical({ minCount: 2 }) },
      { length: colors.length, columns: { color: colors } },
    )
    expect(fitted.features[0]).toMatchObject({
      distinct: 3,
      missingCount: 1,
      top: [
        ['red', 3],
        ['blue', 2],
        ['green', 1],
      ],
      kept: ['blue', 'red'],
    })
  })

  it('is plain JSON: a round-tripped fitted transform produces identical vectors', () => {
    const batch: ColumnarBatch = {
      length: 3,
      columns: { a: [1.5, null, -2], b: ['x', 'y', null], t: ['Hello world', 'héllo', null] },
    }
    const { fitted, x } = fitAndTransform(
      { a: numeric({ buckets: 2 }), b: categorical({ minCount: 2 }), t: text({ bigrams: true }) },
      batch,
    )
    const copy = JSON.parse(JSON.stringify(fitted)) as FittedTransform
    expect(copy).toEqual(fitted)
    expect(transform(copy, batch)).toEqual(x)
  })

  it('names the feature and the column when a column is not in the data', () => {
    const batch = { length: 1, columns: { a: [1] } }
    expect(() => fitTransform({ ab: cross(['a', 'b']) }, batch, { hashBits })).toThrowError(
      /feature "ab" reads column "b", which is not in the data/,
    )
    try {
      fitTransform({ missing: numeric() }, batch, { hashBits })
    } catch (error) {
      expect(isFreshetError(error, 'USAGE')).toBe(true)
    }
  })

  it('rejects bucket boundaries out of order and hashBits out of range', () => {
    const batch = { length: 1, columns: { a: [1] } }
    expect(() => fitTransform({ a: numeric({ buckets: [3, 1] }) }, batch, { hashBits })).toThrowError(
      /strictly ascending/,
    )
    expect(() => fitTransform({ a: numeric() }, batch, { hashBits: 31 })).toThrowError(
      /hashBits must be an integer from 1 to 30/,
    )
  })
})

describe('transform', () => {
  it('hashes namespaced names into 2^hashBits slots, with a bias slot in every row, indices ascending', () => {
    const batch = { length: 2, columns: { color: ['red', 'blue'], shade: ['red', 'red'] } }
    const { x } = fitAndTransform({ color: categorical(), shade: categorical() }, batch)
    expect(x.rows).toBe(2)
    expect(x.cols).toBe(2 ** hashBits)
    expect(row(x, 0)).toEqual(
      new Map([
        [bias, 1],
        [slot('color', 'red'), 1],
        [slot('shade', 'red'), 1],
      ]),
    )
    expect(slot('color', 'red')).not.toBe(slot('shade', 'red'))
    for (let r = 0; r < x.rows; r++) {
      const indices = [...x.indices.subarray(x.indptr[r], x.indptr[r + 1])]
      expect(indices).toEqual([...indices].sort((a, b) => a - b))
      expect(new Set(indices).size).toBe(indices.length)
    }
  })

  it('standardizes numbers with the training mean and std, and marks missing values', () => {
    const batch = { length: 4, columns: { d: new Float64Array([2, 4, 6, Number.NaN]) } }
    const { x } = fitAndTransform({ d: numeric() }, batch)
    const std = Math.sqrt(8 / 3)
    expect(row(x, 0).get(slot('d', ''))).toBeCloseTo(-2 / std, 6)
    expect(row(x, 1).has(slot('d', ''))).toBe(false) // the mean standardizes to 0, which is not stored
    expect(row(x, 3)).toEqual(
      new Map([
        [bias, 1],
        [slot('d', '\u0002missing'), 1],
      ]),
    )
  })

  it('applies log1p symmetrically and passes raw values through with none', () => {
    const batch = { length: 2, columns: { a: [Math.E - 1, -(Math.E - 1)], b: [3, null] } }
    const { x } = fitAndTransform(
      { a: numeric({ transform: 'log1p' }), b: numeric({ transform: 'none', missing: 'zero' }) },
      batch,
    )
    expect(row(x, 0).get(slot('a', ''))).toBeCloseTo(1, 6)
    expect(row(x, 1).get(slot('a', ''))).toBeCloseTo(-1, 6)
    expect(row(x, 0).get(slot('b', ''))).toBe(3)
    expect(row(x, 1).size).toBe(2) // bias and a only: a missing b with missing: 'zero' emits nothing
  })

  it('one-hot encodes buckets instead of the value', () => {
    const batch = { length: 3, columns: { d: [0, 10, 20] } }
    const { x } = fitAndTransform({ d: numeric({ buckets: [5, 15] }) }, batch)
    expect([0, 1, 2].map((r) => row(x, r).get(slot('d', `\u0002bucket${r}`)))).toEqual([1, 1, 1])
    expect(row(x, 0).has(slot('d', ''))).toBe(false)
  })

  it('sends rare and unseen categories to one rare slot when minCount is set', () => {
    const train = { length: 4, columns: { c: ['a', 'a', 'b', null] } }
    const fitted = fitTransform({ c: categorical({ minCount: 2 }) }, train, { hashBits })
    const x = transform(fitted, { length: 4, columns: { c: ['a', 'b', 'never-seen', null] } })
    expect(row(x, 0).has(slot('c', 'a'))).toBe(true)
    expect(row(x, 1).get(slot('c', '\u0002rare'))).toBe(1)
    expect(row(x, 2).get(slot('c', '\u0002rare'))).toBe(1)
    expect(row(x, 3).get(slot('c', '\u0002missing'))).toBe(1)
  })

  it('tokenizes text into lowercased Unicode words weighted log(1 + count)', () => {
    const batch = { length: 1, columns: { t: ['FREE free Free! Ünïcode 東京 x2'] } }
    const { x } = fitAndTransform({ t: text() }, batch)
    const entries = row(x, 0)
    expect(entries.get(slot('t', 'free'))).toBeCloseTo(Math.log(4), 6)
    for (const token of ['ünïcode', '東京', 'x2'])
      expect(entries.get(slot('t', token))).toBeCloseTo(Math.log(2), 6)
    expect(entries.size).toBe(5)
  })

  it('keeps case when asked, adds bigrams, and caps tokens at maxTokens', () => {
    const batch = { length: 1, columns: { t: ['Win big money now'] } }
    const { x } = fitAndTransform({ t: text({ lowercase: false, bigrams: true, maxTokens: 3 }) }, batch)
    const entries = row(x, 0)
    for (const token of ['Win', 'big', 'money', 'Win big', 'big money'])
      expect(entries.has(slot('t', token))).toBe(true)
    expect(entries.has(slot('t', 'now'))).toBe(false)
    expect(entries.has(slot('t', 'money now'))).toBe(false)
    expect(entries.size).toBe(6)
  })

  it('crosses the values of several columns into one slot', () => {
    const batch = { length: 2, columns: { origin: ['SFO', 'SFO'], dest: ['JFK', null] } }
    const { x } = fitAndTransform({ route: cross(['origin', 'dest']) }, batch)
    expect(row(x, 0).get(slot('route', 'SFO\u0002JFK'))).toBe(1)
    expect(row(x, 1).get(slot('route', 'SFO\u0002\u0003'))).toBe(1)
  })

  it('sums entries of different features that hash to the same slot', () => {
    // With 1 hash bit every entry lands in slot 0 or 1, so collisions are certain.
    const batch = { length: 1, columns: { a: ['x'], b: ['y'], c: ['z'], d: ['w'] } }
    const fitted = fitTransform(
      { a: categorical(), b: categorical(), c: categorical(), d: categorical() },
      batch,
      { hashBits: 1 },
    )
    const x = transform(fitted, batch)
    expect(x.indptr[1]).toBeLessThanOrEqual(2)
    expect([...x.values].reduce((a, b) => a + b, 0)).toBe(5)
  })
})
