import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { literal, openDuck, type Duck } from '../data/duckdb.js'
import { packageFile } from '../examples/package-data.js'
import { jensenShannon, linfDistance, psi } from './distances.js'
import { categoryCounts, newValueFraction, OTHER_VALUES, quantileHistograms } from './distributions.js'

const nasty = 'a"; DROP TABLE x; --'
let duck: Duck
// A quote in the folder name checks that file paths are quoted too.
let dir: string

beforeAll(async () => {
  duck = await openDuck()
  dir = await mkdtemp(join(tmpdir(), "freshet-distributions-'q-"))
})

afterAll(async () => {
  duck.close()
  await rm(dir, { recursive: true, force: true })
})

/** Writes the rows of `select` to `<dir>/<name>.parquet` and returns the path. */
async function parquet(name: string, select: string, options = ''): Promise<string> {
  const path = join(dir, `${name}.parquet`)
  await duck.run(`COPY (${select}) TO ${literal(path)} (FORMAT parquet${options})`)
  return path
}

/** `SELECT ... FROM (VALUES ...)` of one column named `column`. */
function values(column: string, sqlValues: string[]): string {
  return `SELECT v AS "${column.replaceAll('"', '""')}" FROM (VALUES ${sqlValues.map((v) => `(${v})`).join(', ')}) t(v)`
}

describe('quantileHistograms', () => {
  it('cuts bins at the reference quantiles and counts both sides on them, leaving out non-finite values', async () => {
    const ref = await parquet('q-ref', values('x', ['1', '2', '3', '4', '5', '6', '7', '8', "'NaN'::DOUBLE", 'NULL']))
    const cand = await parquet('q-cand', values('x', ['0', '2', '9', '100', "'Infinity'::DOUBLE"]))
    const h = await quantileHistograms(duck, [ref], cand, 'x', 4)
    expect(h).toEqual({ cuts: [2, 4, 6], reference: [2, 2, 2, 2], candidate: [2, 0, 0, 2] })
  })

  it('merges repeated cut points of a discrete column, and is undefined when a side has no finite value', async () => {
    const ref = await parquet('q-const', values('x', ['7', '7', '7', '8']))
    const h = await quantileHistograms(duck, [ref], ref, 'x', 4)
    expect(h?.cuts).toEqual([7])
    expect(h?.reference).toEqual([3, 1])
    const empty = await parquet('q-empty', values('x', ['NULL::DOUBLE']))
    expect(await quantileHistograms(duck, [ref], empty, 'x')).toBeUndefined()
    expect(await quantileHistograms(duck, [empty], ref, 'x')).toBeUndefined()
  })

  it('reads a hostile column name and rejects bad arguments', async () => {
    const ref = await parquet('q-nasty', values(nasty, ['1', '2']))
    expect((await quantileHistograms(duck, [ref], ref, nasty, 2))?.reference).toEqual([1, 1])
    await expect(quantileHistograms(duck, [ref], ref, nasty, 1)).rejects.toThrow(/bins must be an integer/)
    await expect(quantileHistograms(duck, [], ref, nasty)).rejects.toThrow(/no reference files/)
  })
})

describe('categoryCounts', () => {
  it('counts non-null values per side as text and sums the tail beyond the limit', async () => {
    const ref = await parquet('c-ref', values('c', ["'a'", "'a'", "'a'", "'b'", "'b'", "'c'", "'d'", 'NULL']))
    const cand = await parquet('c-cand', values('c', ["'a'", "'e'", "'e'"]))
    const counts = await categoryCounts(duck, [ref], cand, 'c', 2)
    expect(counts).toEqual({
      reference: new Map([
        ['a', 3],
        ['b', 2],
        [OTHER_VALUES, 2],
      ]),
      candidate: new Map([
        ['e', 2],
        ['a', 1],
      ]),
      referenceDistinct: 4,
      candidateDistinct: 2,
    })
    // p = {a: 3/7, b: 2/7, other: 2/7}, q = {e: 2/3, a: 1/3}: the largest difference is at e.
    expect(linfDistance(counts.reference, counts.candidate)).toBeCloseTo(2 / 3, 12)
  })

  it('casts other types to text, reads SQL-like column names and gives empty maps for an all-null side', async () => {
    const ref = await parquet('c-int-ref', values(nasty, ['1', '1', '2']))
    const cand = await parquet('c-int-cand', values(nasty, ['NULL::INTEGER']))
    expect(await categoryCounts(duck, [ref], cand, nasty)).toEqual({
      reference: new Map([
        ['1', 2],
        ['2', 1],
      ]),
      candidate: new Map(),
      referenceDistinct: 2,
      candidateDistinct: 0,
    })
  })
})

describe('newValueFraction', () => {
  it('finds candidate rows whose value no reference row has, with 1-based row numbers in file order', async () => {
    const ref1 = await parquet('n-ref1', `SELECT 'v' || (i % 7) AS c FROM range(100) r(i)`)
    const ref2 = await parquet('n-ref2', `SELECT 'w' AS c, 1 AS extra`)
    // 10,000 rows in several row groups; rows (1-based) 4, 2501, 4098, 10000 hold new values.
    const cand = await parquet(
      'n-cand',
      `SELECT CASE WHEN i IN (3, 2500, 4097) THEN 'new' WHEN i = 9999 THEN 'other new'
         WHEN i % 11 = 0 THEN NULL WHEN i % 2 = 0 THEN 'w' ELSE 'v' || (i % 7) END AS c
       FROM range(10000) r(i) ORDER BY i`,
      ', ROW_GROUP_SIZE 2048',
    )
    // 909 nulls: the multiples of 11 below 9999 (row 10000 holds a new value).
    const present = 10_000 - 909
    const result = await newValueFraction(duck, [ref1, ref2], cand, 'c')
    expect(result).toEqual({
      fraction: 4 / present,
      presentRows: present,
      newRows: 4,
      exampleRows: [4, 2501, 4098, 10000],
      topNewValues: [
        { value: 'new', count: 3 },
        { value: 'other new', count: 1 },
      ],
    })
  })

  it('keeps 10 example rows and 5 top values, and is 0 for an all-null candidate', async () => {
    const ref = await parquet('n-many-ref', values(nasty, ['0']))
    const cand = await parquet(
      'n-many-cand',
      `SELECT i % 6 AS "${nasty.replaceAll('"', '""')}" FROM range(60) r(i)`,
    )
    const result = await newValueFraction(duck, [ref], cand, nasty)
    expect(result.fraction).toBeCloseTo(50 / 60, 15)
    expect(result.exampleRows).toEqual([2, 3, 4, 5, 6, 8, 9, 10, 11, 12])
    expect(result.topNewValues).toEqual(['1', '2', '3', '4', '5'].map((value) => ({ value, count: 10 })))
    const nulls = await parquet('n-nulls', values(nasty, ['NULL::INTEGER']))
    expect(await newValueFraction(duck, [ref], nulls, nasty)).toEqual({
      fraction: 0,
      presentRows: 0,
      newRows: 0,
      exampleRows: [],
      topNewValues: [],
    })
  })
})

describe('drift on real data: flights-3m by week', () => {
  const source = literal(packageFile('vega-datasets', 'data/flights-3m.parquet'))
  const week = (from: string, to: string, select = '*'): string =>
    `SELECT ${select} FROM read_parquet(${source}) WHERE date >= TIMESTAMP '${from}' AND date < TIMESTAMP '${to}' ORDER BY date`
  let reference: string
  let normal: string

  beforeAll(async () => {
    reference = await parquet('week-0108', week('2001-01-08', '2001-01-15'))
    normal = await parquet('week-0115', week('2001-01-15', '2001-01-22'))
  })

  it('keeps JS and PSI of distance small between two normal weeks and flags distances in kilometres', async () => {
    const km = await parquet(
      'week-0115-km',
      week('2001-01-15', '2001-01-22', '* REPLACE (CAST(round(distance * 1.609) AS BIGINT) AS distance)'),
    )
    const same = await quantileHistograms(duck, [reference], normal, 'distance')
    const drifted = await quantileHistograms(duck, [reference], km, 'distance')
    if (same === undefined || drifted === undefined) throw new Error('no distances')
    const js = jensenShannon(same.reference, same.candidate)
    const jsKm = jensenShannon(drifted.reference, drifted.candidate)
    const psiNormal = psi(same.reference, same.candidate)
    const psiKm = psi(drifted.reference, drifted.candidate)
    // On 20 reference-quantile bins a change of scale moves most of the data into other bins.
    expect(js).toBeLessThan(0.001)
    expect(psiNormal).toBeLessThan(0.01)
    expect(jsKm).toBeGreaterThan(0.05)
    expect(jsKm).toBeGreaterThan(100 * js)
    expect(psiKm).toBeGreaterThan(0.25)
  })

  it('measures a flood of a new airport code as new-value fraction and L-infinity distance near 0.3', async () => {
    const flooded = await parquet(
      'week-0115-zzz',
      `SELECT * REPLACE (CASE WHEN n % 10 < 3 THEN 'ZZZ' ELSE origin END AS origin)
       FROM (SELECT *, row_number() OVER (ORDER BY date, origin, destination, distance, delay) AS n FROM (${week('2001-01-15', '2001-01-22')}))
       ORDER BY n`,
    )
    const fresh = await newValueFraction(duck, [reference], flooded, 'origin')
    // Measured: 34,106 of 113,687 rows, 0.2999991; L-infinity the same (the share of ZZZ).
    expect(fresh.fraction).toBeCloseTo(0.3, 4)
    expect(fresh.topNewValues).toEqual([{ value: 'ZZZ', count: fresh.newRows }])
    expect(fresh.exampleRows).toEqual([1, 2, 10, 11, 12, 20, 21, 22, 30, 31])
    const counts = await categoryCounts(duck, [reference], flooded, 'origin')
    expect(linfDistance(counts.reference, counts.candidate)).toBeCloseTo(0.3, 4)
    const usual = await categoryCounts(duck, [reference], normal, 'origin')
    expect(linfDistance(usual.reference, usual.candidate)).toBeLessThan(0.02)
    expect((await newValueFraction(duck, [reference], normal, 'origin')).fraction).toBeLessThan(0.001)
  })
})
