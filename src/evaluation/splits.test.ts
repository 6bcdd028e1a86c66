import { describe, expect, it } from 'vitest'
import { isFreshetError } from '../core/errors.js'
import { randomSplit, timeHoldout, timeSplit, type Split } from './splits.js'

const day = 86_400_000

function expectPartition(split: Split, rows: number): void {
  const all = [...split.train, ...split.test].sort((a, b) => a - b)
  expect(all).toEqual(Array.from({ length: rows }, (_, i) => i))
}

describe('timeSplit', () => {
  // Rows deliberately out of time order, with a tie.
  const times = [5 * day, 1 * day, 9 * day, 3 * day, 9 * day, 7 * day]

  it('holds out the last duration before the latest event, both sides in time order', () => {
    const split = timeSplit(times, timeHoldout('3d'))
    expect([...split.test]).toEqual([5, 2, 4]) // t = 7d, 9d, 9d (> 9d - 3d)
    expect([...split.train]).toEqual([1, 3, 0]) // t = 1d, 3d, 5d
    expectPartition(split, times.length)
  })

  it('holds out the latest fraction of rows, breaking time ties by row index', () => {
    const split = timeSplit(times, timeHoldout(0.5))
    expect([...split.test]).toEqual([5, 2, 4])
    expect([...timeSplit(times, { fraction: 1 / 6 }).test]).toEqual([4])
    expectPartition(split, times.length)
  })

  it('accepts Dates, ISO strings and bigints as event times', () => {
    const split = timeSplit(
      [new Date('2002-09-01'), '2002-08-01T00:00:00Z', BigInt(Date.parse('2002-10-01'))],
      { fraction: 1 / 3 },
    )
    expect([...split.test]).toEqual([2])
    expect([...split.train]).toEqual([1, 0])
  })

  it('names the row of a missing or invalid event time', () => {
    try {
      timeSplit([day, null, 2 * day], { fraction: 0.5 })
      expect.unreachable()
    } catch (error) {
      expect(isFreshetError(error, 'USAGE')).toBe(true)
      expect((error as Error).message).toBe('row 1: event time null is not a valid time')
    }
    expect(() => timeSplit(['yesterday'], { fraction: 0.5 })).toThrowError(
      'row 0: event time "yesterday" is not a valid time',
    )
  })
})

describe('randomSplit', () => {
  it('is deterministic for a seed, disjoint and complete, with the requested size', () => {
    const a = randomSplit(1000, 0.2, 42)
    const b = randomSplit(1000, 0.2, 42)
    expect(a).toEqual(b)
    expect(a.test.length).toBe(200)
    expectPartition(a, 1000)
    expect([...a.test]).toEqual([...a.test].sort((x, y) => x - y))
  })

  it('picks other rows with another seed', () => {
    expect(randomSplit(1000, 0.2, 1).test).not.toEqual(randomSplit(1000, 0.2, 2).test)
  })

  it('rejects fractions outside [0, 1]', () => {
    expect(() => randomSplit(10, 1.5)).toThrowError('a holdout fraction must be from 0 to 1, got 1.5')
  })
})
