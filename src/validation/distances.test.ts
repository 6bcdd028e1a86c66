import { describe, expect, it } from 'vitest'
import { jensenShannon, linfDistance, psi } from './distances.js'

const counts = (entries: Record<string, number>): Map<string, number> => new Map(Object.entries(entries))

describe('linfDistance', () => {
  it('is the largest probability difference, a value absent on one side counting as 0', () => {
    // p = {a: .5, b: .5}, q = {a: .75, c: .25}: |.5-.75| = .25, |.5-0| = .5, |0-.25| = .25
    expect(linfDistance(counts({ a: 1, b: 1 }), counts({ a: 3, c: 1 }))).toBe(0.5)
    // The largest difference may be at a value only the candidate has: q = {a: .4, z: .6}
    expect(linfDistance(counts({ a: 5 }), counts({ a: 2, z: 3 }))).toBeCloseTo(0.6, 15)
  })

  it('compares probabilities, not counts, and is symmetric', () => {
    const p = counts({ x: 10, y: 30 })
    const q = counts({ x: 1, y: 3 })
    expect(linfDistance(p, q)).toBe(0)
    const r = counts({ x: 3, y: 1, w: 4 })
    expect(linfDistance(p, r)).toBe(linfDistance(r, p))
    expect(linfDistance(counts({ a: 1 }), counts({ b: 1 }))).toBe(1)
  })

  it('is NaN when a side has no counts and rejects negative or infinite counts', () => {
    expect(linfDistance(new Map(), counts({ a: 1 }))).toBeNaN()
    expect(linfDistance(counts({ a: 0 }), counts({ a: 1 }))).toBeNaN()
    expect(() => linfDistance(counts({ a: -1 }), counts({ a: 1 }))).toThrow(RangeError)
    expect(() => linfDistance(counts({ a: 1 }), counts({ a: Number.NaN }))).toThrow(/finite and non-negative/)
  })
})

describe('jensenShannon', () => {
  it('is 0 for identical histograms and 1 for disjoint ones', () => {
    expect(jensenShannon([1, 2, 3], [2, 4, 6])).toBe(0)
    expect(jensenShannon([1, 0], [0, 1])).toBe(1)
    expect(jensenShannon([5, 5, 0, 0], [0, 0, 1, 9])).toBe(1)
  })

  it('matches a hand-computed value', () => {
    // P = (.5, .5), Q = (1, 0), M = (.75, .25)
    // KL(P||M) = .5 log2(.5/.75) + .5 log2(.5/.25) = .5 (-0.5849625007) + .5 = 0.2075187496
    // KL(Q||M) = log2(1/.75) = 0.4150374993; JS = (0.2075187496 + 0.4150374993) / 2 = 0.3112781245
    expect(jensenShannon([1, 1], [1, 0])).toBeCloseTo(0.3112781245, 9)
    expect(jensenShannon([1, 0], [1, 1])).toBeCloseTo(0.3112781245, 9)
  })

  it('accepts typed arrays and is NaN for an empty side', () => {
    expect(jensenShannon(new Float64Array([3, 1]), new Uint32Array([1, 3]))).toBeCloseTo(
      // M = (.5, .5): JS = .75 log2(1.5) + .25 log2(.5) = 0.1887218755
      0.75 * Math.log2(1.5) + 0.25 * Math.log2(0.5),
      12,
    )
    expect(jensenShannon([0, 0], [1, 2])).toBeNaN()
    expect(jensenShannon([], [])).toBeNaN()
  })

  it('rejects histograms over different bins', () => {
    expect(() => jensenShannon([1, 2], [1, 2, 3])).toThrow(/different numbers of bins: 2 and 3/)
    expect(() => jensenShannon([1, Number.POSITIVE_INFINITY], [1, 2])).toThrow(RangeError)
  })
})

describe('psi', () => {
  it('matches a hand-computed value', () => {
    // p = (.5, .5), q = (.25, .75): (.25 - .5) ln(.5) + (.75 - .5) ln(1.5) = 0.1732867951 + 0.1013662770
    expect(psi([50, 50], [25, 75])).toBeCloseTo(0.2746530722, 9)
    expect(psi([50, 50], [50, 50])).toBe(0)
  })

  it('is symmetric in its two histograms', () => {
    expect(psi([10, 20, 70], [30, 30, 40])).toBeCloseTo(psi([30, 30, 40], [10, 20, 70]), 15)
  })

  it('smooths empty bins with epsilon', () => {
    // p = (1, 0) -> (1, 1e-4); q = (.5, .5): (.5 - 1) ln(.5) + (.5 - 1e-4) ln(.5 / 1e-4)
    //   = 0.3465735903 + 0.4999 * 8.5171931914 = 4.6043184667
    expect(psi([1, 0], [1, 1])).toBeCloseTo(4.6043184667, 9)
    // A smaller epsilon makes the empty bin weigh more: ln(.5 / 1e-6) = 13.1223633774
    expect(psi([1, 0], [1, 1], 1e-6)).toBeCloseTo(0.3465735903 + 0.499999 * 13.1223633774, 9)
    // A bin empty on both sides contributes nothing.
    expect(psi([50, 50, 0], [25, 75, 0])).toBeCloseTo(0.2746530722, 9)
  })

  it('is NaN for an empty side and rejects a bad epsilon', () => {
    expect(psi([0, 0], [1, 1])).toBeNaN()
    expect(() => psi([1], [1], 0)).toThrow(/epsilon must be in \(0, 1\)/)
    expect(() => psi([1], [1, 2])).toThrow(RangeError)
  })
})
