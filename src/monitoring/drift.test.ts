import { describe, expect, it } from 'vitest'
import { mulberry32 } from '../core/random.js'
import { categoricalBaseline, numericBaseline, servingBaseline } from './baseline.js'
import { DriftAccumulator } from './drift.js'

const random = mulberry32

const miles = (r: () => number) => Math.round(100 + 2000 * r() * r())
const airports = ['ATL', 'ORD', 'DFW', 'LAX', 'DEN', 'SFO']

function baseline() {
  const r = random(1)
  const rows = 5000
  const distance = Array.from({ length: rows }, () => miles(r))
  const origin = Array.from({ length: rows }, () => airports[Math.floor(r() * airports.length)]!)
  const predictions = Array.from({ length: 1000 }, () => r())
  return servingBaseline(
    {
      features: [
        { type: 'numeric', name: 'distance' } as never,
        { type: 'categorical', name: 'origin' } as never,
      ],
    },
    { length: rows, columns: { distance, origin } },
    predictions,
  )
}

describe('serving drift against the training baseline', () => {
  it('cuts numbers at the training quantiles and counts categories', () => {
    const b = numericBaseline([1, 2, 3, 4, null, Number.NaN, 'x'])
    expect(b).toMatchObject({ rows: 7, missing: 3 })
    expect(b.counts.reduce((a, c) => a + c, 0)).toBe(4)
    expect(categoricalBaseline(['a', 'b', 'a', null, 7])).toMatchObject({
      counts: { a: 2, b: 1, '7': 1 },
      rows: 5,
      missing: 1,
    })
  })

  it('is small for traffic like the training data, large for distances sent in kilometres', () => {
    const b = baseline()
    const r = random(2)
    const same = new DriftAccumulator(b)
    const km = new DriftAccumulator(b)
    for (let i = 0; i < 2000; i++) {
      const origin = airports[Math.floor(r() * airports.length)]!
      const distance = miles(r)
      same.add({ origin, distance }, r())
      km.add({ origin, distance: distance * 1.609 }, r())
    }
    const s = same.result()
    const k = km.result()
    expect(s.rows).toBe(2000)
    expect(s.features.distance!.distance!).toBeLessThan(0.01)
    expect(s.drift!).toBeLessThan(0.05)
    expect(k.features.distance!.distance!).toBeGreaterThan(0.05)
    expect(k.features.origin!.distance).toBe(s.features.origin!.distance)
    expect(k.drift).toBe(k.features.distance!.distance)
    expect(s.predictionDrift!).toBeLessThan(0.01)
  })

  it('counts values the training data never had, and missing values, with bounded memory', () => {
    const acc = new DriftAccumulator(baseline())
    for (let i = 0; i < 12_000; i++) acc.add({ origin: `NEW${i}`, distance: null }, null)
    const result = acc.result()
    expect(result.features.origin).toMatchObject({ present: 12_000, missing: 0 })
    // Every training airport lost its whole share (about 1/6); each new value holds 1/12,000, except the 2,000 past
    // the 10,000 tracked, which are counted together (2,000/12,000).
    expect(result.features.origin!.distance!).toBeGreaterThanOrEqual(2000 / 12_000)
    expect(result.features.origin!.distance!).toBeLessThan(0.2)
    expect(result.features.distance).toMatchObject({ present: 0, missing: 12_000, distance: null })
    expect(result.predictionDrift).toBeNull()
  })
})
