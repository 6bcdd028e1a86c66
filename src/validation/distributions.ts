import { ident, literal, type Duck } from '../data/duckdb.js'

/**
 * Paired distributions of one column in the accepted (reference) data and in a new (candidate) batch, computed
 * by DuckDB straight from Parquet, in the shapes the distances of `distances.ts` take. Reference files are read
 * together with `union_by_name`, so files written before a column was added count it as null.
 *
 * Every function throws DuckDB's error when the column is in neither the candidate nor any reference file; check
 * for missing columns first.
 */

/** Histograms of a numeric column on bins cut at the reference's quantiles. */
export interface QuantileHistograms {
  /** Ascending inner cut points: `cuts.length + 1` bins. */
  cuts: number[]
  /** Reference counts per bin. */
  reference: number[]
  /** Candidate counts per bin. */
  candidate: number[]
}

/** Value counts of a column on both sides, the rare tail summed into {@link OTHER_VALUES}. */
export interface CategoryCounts {
  reference: Map<string, number>
  candidate: Map<string, number>
  /** Distinct non-null values in the reference, before the tail was summed. */
  referenceDistinct: number
  /** Distinct non-null values in the candidate, before the tail was summed. */
  candidateDistinct: number
}

/** Candidate values that never appear in the reference. */
export interface NewValues {
  /** `newRows / presentRows`; 0 when the candidate has no non-null value. */
  fraction: number
  /** Candidate rows with a non-null value. */
  presentRows: number
  /** Candidate rows whose value is not in the reference. */
  newRows: number
  /** Up to 10 of those rows, as 1-based row positions in the candidate file, ascending. */
  exampleRows: number[]
  /** Up to 5 new values, most frequent first (ties by value). */
  topNewValues: Array<{ value: string; count: number }>
}

/** The key under which {@link categoryCounts} sums the values beyond its `limit`. */
export const OTHER_VALUES = '__other__'

const EXAMPLE_ROWS = 10
const TOP_NEW_VALUES = 5

/**
 * Histograms of `column` (cast to DOUBLE; null, NaN, ±Infinity and values that do not cast are left out) on bins
 * cut at the reference's quantiles (the 1/bins, 2/bins, … quantiles, repeated cut points merged), so each bin holds
 * about as much reference data as the others. Unlike equal-width bins, a few outliers cannot squeeze the bulk of the
 * data into one bin, so a change of scale (×10, miles to km) shows as a large distance. Feed the counts to
 * `jensenShannon` and `psi`.
 *
 * @returns `cuts` (ascending inner cut points; bin i holds `cuts[i-1] < x <= cuts[i]`, the first and last bins are
 * open-ended) and the counts per bin; `undefined` when either side has no finite value.
 * @throws RangeError when `referenceFiles` is empty or `bins` is not an integer from 2 to 1,000.
 * @example
 * const h = await quantileHistograms(duck, accepted, batchFile, 'distance')
 * if (h !== undefined && jensenShannon(h.reference, h.candidate) > threshold) warn()
 */
export async function quantileHistograms(
  duck: Duck,
  referenceFiles: readonly string[],
  candidateFile: string,
  column: string,
  bins = 20,
): Promise<QuantileHistograms | undefined> {
  if (!Number.isInteger(bins) || bins < 2 || bins > 1000) {
    throw new RangeError(`bins must be an integer from 2 to 1000, got ${bins}`)
  }
  const value = `TRY_CAST(${ident(column)} AS DOUBLE)`
  const levels = Array.from({ length: bins - 1 }, (_, i) => (i + 1) / bins)
  const [q] = await duck.rows(
    `SELECT quantile_disc(v, [${levels.join(', ')}]) AS q FROM (SELECT ${value} AS v FROM ${referenceSource(referenceFiles)}) WHERE isfinite(v)`,
  )
  const cuts = [...new Set(listOf(q?.q).map(Number).filter(Number.isFinite))].sort((x, y) => x - y)
  // The bin of a value is the number of cut points below it: one vectorised comparison per cut point.
  const bin = cuts.length === 0 ? '0' : cuts.map((c) => `CAST(v > ${c} AS INTEGER)`).join(' + ')
  const rows = await duck.rows(`
    WITH vals AS (
      SELECT 0 AS side, ${value} AS v FROM ${referenceSource(referenceFiles)}
      UNION ALL
      SELECT 1 AS side, ${value} AS v FROM ${candidateSource(candidateFile)}
    )
    SELECT side, ${bin} AS bin, CAST(count(*) AS DOUBLE) AS n FROM vals WHERE isfinite(v) GROUP BY ALL
  `)
  const reference = new Array<number>(cuts.length + 1).fill(0)
  const candidate = new Array<number>(cuts.length + 1).fill(0)
  for (const row of rows) (Number(row.side) === 0 ? reference : candidate)[Number(row.bin)] = Number(row.n)
  if (reference.every((n) => n === 0) || candidate.every((n) => n === 0)) return undefined
  return { cuts, reference, candidate }
}

/**
 * Counts of each non-null value of `column` (cast to VARCHAR) on both sides, in one query. Each side keeps its
 * `limit` most frequent values (ties by value) and sums the rest under {@link OTHER_VALUES}, so the counts still
 * add up to the side's non-null rows. (A real value spelled `__other__` is merged with that tail.) Feed the maps
 * to `linfDistance`; a side with no values gives an empty map.
 *
 * @throws RangeError when `referenceFiles` is empty or `limit` is not a positive integer.
 */
export async function categoryCounts(
  duck: Duck,
  referenceFiles: readonly string[],
  candidateFile: string,
  column: string,
  limit = 1000,
): Promise<CategoryCounts> {
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new RangeError(`limit must be a positive integer, got ${limit}`)
  }
  const value = `CAST(${ident(column)} AS VARCHAR)`
  const rows = await duck.rows(`
    WITH
      vals AS (
        SELECT 0 AS side, ${value} AS v FROM ${referenceSource(referenceFiles)}
        UNION ALL
        SELECT 1 AS side, ${value} AS v FROM ${candidateSource(candidateFile)}
      ),
      counts AS (SELECT side, v, count(*) AS n FROM vals WHERE v IS NOT NULL GROUP BY side, v),
      ranked AS (
        SELECT side, v, n,
          row_number() OVER (PARTITION BY side ORDER BY n DESC, v) AS rank,
          count(*) OVER (PARTITION BY side) AS distinct_values
        FROM counts
      )
    SELECT side, CASE WHEN rank <= ${limit} THEN v END AS value, sum(n) AS n, max(distinct_values) AS distinct_values
    FROM ranked
    GROUP BY ALL
  `)
  const result: CategoryCounts = {
    reference: new Map(),
    candidate: new Map(),
    referenceDistinct: 0,
    candidateDistinct: 0,
  }
  for (const row of rows) {
    const reference = Number(row.side) === 0
    const counts = reference ? result.reference : result.candidate
    const key = typeof row.value === 'string' ? row.value : OTHER_VALUES
    counts.set(key, (counts.get(key) ?? 0) + Number(row.n))
    if (reference) result.referenceDistinct = Number(row.distinct_values)
    else result.candidateDistinct = Number(row.distinct_values)
  }
  return result
}

/**
 * How much of the candidate is values the reference never had: the exact share of the candidate's non-null rows
 * whose value (cast to VARCHAR) appears in no reference row (an anti-join, not limited like
 * {@link categoryCounts}), with example row numbers and the most frequent new values, in one query.
 *
 * @throws RangeError when `referenceFiles` is empty.
 * @example
 * const fresh = await newValueFraction(duck, accepted, batchFile, 'origin')
 * // { fraction: 0.3, exampleRows: [1, 11, 21, ...], topNewValues: [{ value: 'ZZZ', count: 34_000 }], ... }
 */
export async function newValueFraction(
  duck: Duck,
  referenceFiles: readonly string[],
  candidateFile: string,
  column: string,
): Promise<NewValues> {
  const value = `CAST(${ident(column)} AS VARCHAR)`
  const rows = await duck.rows(`
    WITH
      known AS (SELECT DISTINCT ${value} AS v FROM ${referenceSource(referenceFiles)}),
      candidate AS (
        SELECT row_number() OVER () AS row, ${value} AS v FROM ${candidateSource(candidateFile)}
      ),
      new_rows AS (SELECT row, v FROM candidate ANTI JOIN known USING (v) WHERE v IS NOT NULL)
    SELECT
      (SELECT count(*) FROM candidate WHERE v IS NOT NULL) AS present,
      (SELECT count(*) FROM new_rows) AS new,
      (SELECT list(row ORDER BY row) FROM (SELECT row FROM new_rows ORDER BY row LIMIT ${EXAMPLE_ROWS})) AS examples,
      (
        SELECT list({ 'value': v, 'count': n } ORDER BY n DESC, v) FROM (
          SELECT v, count(*) AS n FROM new_rows GROUP BY v ORDER BY n DESC, v LIMIT ${TOP_NEW_VALUES}
        )
      ) AS top_values
  `)
  const row = rows[0] ?? {}
  const presentRows = Number(row.present ?? 0)
  const newRows = Number(row.new ?? 0)
  return {
    fraction: presentRows === 0 ? 0 : newRows / presentRows,
    presentRows,
    newRows,
    exampleRows: listOf(row.examples).map(Number),
    topNewValues: listOf(row.top_values).map((entry) => {
      const { value, count } = entry as { value: unknown; count: unknown }
      return { value: String(value), count: Number(count) }
    }),
  }
}

function referenceSource(files: readonly string[]): string {
  if (files.length === 0)
    throw new RangeError('no reference files: distributions need accepted data to compare with')
  return `read_parquet([${files.map(literal).join(', ')}], union_by_name = true)`
}

function candidateSource(file: string): string {
  return `read_parquet(${literal(file)})`
}

function listOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value : []
}
