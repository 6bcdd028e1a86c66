import { describe, expect, it } from 'vitest'
import { categorical, cross, numeric, text } from './helpers.js'
import { fitTransform, transform, transformRows, type ColumnarBatch } from './transform.js'
import { validateInstance } from './validate.js'

// The same raw rows as a serving client would send them (JSON values, null for unknown) ...
const rows: Array<Record<string, unknown>> = [
  { distance: 1200, carrier: 'UA', origin: 'SFO', note: 'Delayed: weather 🌧️ at SFO', ignored: [1, 2] },
  { distance: null, carrier: 'AA', origin: 'JFK', note: null },
  { distance: 0.5, carrier: 'Ünïtéd', origin: '東京', note: 'ÜBER straße STRASSE ß' },
  { distance: -3, carrier: null, origin: 'SFO', note: '' },
  { distance: 1e6, carrier: 'UA', origin: null, note: 'a\u0000b \ud83d lone surrogate' },
  { distance: 42, carrier: 'DL', origin: 'SFO', note: 'x '.repeat(50) },
]

// ... and as the training path reads them from the warehouse: columns, numbers in a Float64Array (NaN = missing).
const batch: ColumnarBatch = {
  length: rows.length,
  columns: {
    distance: Float64Array.from(rows, (r) => (typeof r.distance === 'number' ? r.distance : Number.NaN)),
    carrier: rows.map((r) => r.carrier),
    origin: rows.map((r) => r.origin),
    note: rows.map((r) => r.note),
  },
}

const features = {
  distance: numeric({ buckets: 3 }),
  carrier: categorical({ minCount: 2 }),
  origin: categorical(),
  note: text({ bigrams: true, maxTokens: 20 }),
  carrier_origin: cross(['carrier', 'origin']),
}

describe('training/serving parity', () => {
  it('produces identical feature vectors for the same raw rows through both paths', () => {
    for (const spec of [
      features,
      { ...features, distance: numeric({ transform: 'log1p' }) },
      { ...features, distance: numeric() },
    ]) {
      const fitted = fitTransform(spec, batch, { hashBits: 20 })
      for (let i = 0; i < rows.length; i++) expect(validateInstance(fitted, rows[i], i)).toBeNull()
      const training = transform(fitted, batch)
      const serving = transformRows(fitted, rows)
      expect(serving.rows).toBe(rows.length)
      expect(serving.indptr).toEqual(training.indptr)
      expect(serving.indices).toEqual(training.indices)
      expect(serving.values).toEqual(training.values)
    }
  })

  it('gives one instance the same vector alone as inside a batch', () => {
    const fitted = fitTransform(features, batch, { hashBits: 20 })
    const all = transformRows(fitted, rows)
    const third = transformRows(fitted, [rows[2]!])
    const start = all.indptr[2]!
    const end = all.indptr[3]!
    expect(third.indices).toEqual(all.indices.slice(start, end))
    expect(third.values).toEqual(all.values.slice(start, end))
  })
})
