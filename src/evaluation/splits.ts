import { FreshetError } from '../core/errors.js'
import { parseDuration } from '../core/durations.js'
import { identity, mulberry32, shuffleInPlace } from '../core/random.js'

/** Row indices of the two sides of a split. Disjoint; together they cover every row exactly once. */
export interface Split {
  train: Uint32Array
  test: Uint32Array
}

/** The last `duration` milliseconds before the latest event, or the latest `fraction` of the rows. */
export type TimeHoldout = { duration: number } | { fraction: number }

/** Seed of random splits when the config sets none. */
export const DEFAULT_SPLIT_SEED = 1

/**
 * The holdout of a `split: { by: 'time' }` config: a duration string (`'7d'`) or a fraction of rows (`0.2`).
 * @throws FreshetError `USAGE` for a malformed duration or a fraction outside [0, 1].
 */
export function timeHoldout(holdout: string | number): TimeHoldout {
  if (typeof holdout === 'string') return { duration: parseDuration(holdout) }
  checkFraction(holdout)
  return { fraction: holdout }
}

/**
 * Splits rows by event time: the test side is the most recent data, the train side everything before.
 * - `{ duration }`: rows with `time > maxTime - duration` are test rows.
 * - `{ fraction }`: the last `round(fraction * n)` rows in time order are test rows (rows with equal times are
 *   ordered by row index, so the split is deterministic even when a boundary falls inside a tie).
 * Both sides are returned in time order (ties by row index), the order online learners should see them in.
 *
 * @param eventTimes per row: epoch milliseconds, a Date, a bigint (milliseconds) or an ISO date string.
 * @throws FreshetError `USAGE` naming the first row whose time is missing or invalid.
 */
export function timeSplit(eventTimes: ArrayLike<unknown>, holdout: TimeHoldout): Split {
  const n = eventTimes.length
  const times = new Float64Array(n)
  let max = Number.NEGATIVE_INFINITY
  for (let r = 0; r < n; r++) {
    const t = toTime(eventTimes[r])
    if (Number.isNaN(t)) {
      throw new FreshetError('USAGE', `row ${r}: event time ${describe(eventTimes[r])} is not a valid time`, {
        hint: 'every row needs an event time for a time-based split; validate or fix the data first',
      })
    }
    times[r] = t
    if (t > max) max = t
  }
  const order = identity(n).sort((a, b) => times[a]! - times[b]! || a - b)
  let testCount: number
  if ('duration' in holdout) {
    if (!(holdout.duration >= 0))
      throw new FreshetError('USAGE', `a holdout duration must be >= 0 ms, got ${holdout.duration}`)
    const cutoff = max - holdout.duration
    testCount = 0
    while (testCount < n && times[order[n - 1 - testCount]!]! > cutoff) testCount++
  } else {
    checkFraction(holdout.fraction)
    testCount = Math.round(holdout.fraction * n)
  }
  return { train: order.slice(0, n - testCount), test: order.slice(n - testCount) }
}

/**
 * A seeded random split: exactly `round(fraction * rows)` test rows, the same ones for the same seed. Both sides
 * are in ascending row order.
 * @throws FreshetError `USAGE` for a fraction outside [0, 1].
 */
export function randomSplit(rows: number, fraction: number, seed: number = DEFAULT_SPLIT_SEED): Split {
  checkFraction(fraction)
  const order = shuffleInPlace(identity(rows), mulberry32(seed))
  const testCount = Math.round(fraction * rows)
  return { train: order.slice(testCount).sort(), test: order.slice(0, testCount).sort() }
}

function toTime(value: unknown): number {
  if (typeof value === 'number') return Number.isFinite(value) ? value : Number.NaN
  if (value instanceof Date) return value.getTime()
  if (typeof value === 'bigint') return Number(value)
  if (typeof value === 'string') return Date.parse(value)
  return Number.NaN
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (value instanceof Date) return 'Invalid Date'
  return value === null || value === undefined || typeof value === 'number' ? String(value) : typeof value
}

function checkFraction(fraction: number): void {
  if (!(fraction >= 0 && fraction <= 1))
    throw new FreshetError('USAGE', `a holdout fraction must be from 0 to 1, got ${fraction}`)
}
