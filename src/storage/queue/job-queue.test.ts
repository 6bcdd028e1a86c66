import { describe, expect, it } from 'vitest'
import { backoffDelay, defaultBackoff } from './job-queue.js'

describe('backoffDelay', () => {
  it('doubles from the base up to the cap', () => {
    const exact = { ...defaultBackoff, jitter: 0 }
    expect([1, 2, 3, 4, 9, 10, 30].map((n) => backoffDelay(n, exact, () => 0.5))).toEqual([
      1_000, 2_000, 4_000, 8_000, 256_000, 300_000, 300_000,
    ])
  })

  it('takes off at most the jitter fraction, as the random source says', () => {
    expect(backoffDelay(3, defaultBackoff, () => 0)).toBe(4_000)
    expect(backoffDelay(3, defaultBackoff, () => 0.5)).toBe(3_600)
    expect(backoffDelay(3, defaultBackoff, () => 0.999_999)).toBe(3_200)
  })
})
