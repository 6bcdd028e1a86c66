import type { ColumnType } from '../config/schema.js'
import { ident, literal, type Duck } from './duckdb.js'
import type { SchemaColumn } from './schema.js'

export const quantileLevels = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99] as const
export const histogramBins = 20
export const topValues = 20

export interface NumericStatistics {
  min: number
  max: number
  mean: number
  std: number
  /** p1, p5, p25, p50, p75, p95, p99 (approximate, t-digest). */
  quantiles: Record<'p1' | 'p5' | 'p25' | 'p50' | 'p75' | 'p95' | 'p99', number>
  /** `histogramBins` equal-width bins from min to max: `edges` has one more entry than `counts`. */
  histogram: { edges: number[]; counts: number[] }
  nan: number
  infinite: number
}

export interface StringStatistics {
  top: { value: string; count: number }[]
  meanLength: number
}

export interface ColumnStatistics {
  name: string
  type: ColumnType
  count: number
  missing: number
  /** Approximate (HyperLogLog). */
  distinct: number
  numeric?: NumericStatistics
  string?: StringStatistics
  boolean?: { trueCount: number; falseCount: number }
  timestamp?: { min: string; max: string }
}

const num = (v: unknown): number => (v === null || v === undefined ? Number.NaN : Number(v))

function isoOf(value: unknown): string {
  const text = String(value).replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00')
  const date = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text}Z`)
  return Number.isNaN(date.getTime()) ? String(value) : date.toISOString()
}

/**
 * Computes per-column statistics of one or more Parquet files with DuckDB: one aggregate scan for counts, moments and
 * quantiles, one for the histograms, and one group-by per string column for its top values.
 */
export async function computeStatistics(duck: Duck, parquetFiles: string | readonly string[], columns: readonly SchemaColumn[]): Promise<ColumnStatistics[]> {
  const files = typeof parquetFiles === 'string' ? [parquetFiles] : parquetFiles
  const source = `read_parquet([${files.map(literal).join(', ')}], union_by_name = true)`
  const selects: string[] = ['CAST(count(*) AS DOUBLE) AS "n"']
  columns.forEach((column, i) => {
    const c = ident(column.name)
    selects.push(`CAST(count(${c}) AS DOUBLE) AS "c${i}_count"`, `CAST(approx_count_distinct(${c}) AS DOUBLE) AS "c${i}_distinct"`)
    if (column.type === 'integer' || column.type === 'number') {
      const x = `CASE WHEN isfinite(CAST(${c} AS DOUBLE)) THEN CAST(${c} AS DOUBLE) END`
      selects.push(
        `min(${x}) AS "c${i}_min"`,
        `max(${x}) AS "c${i}_max"`,
        `avg(${x}) AS "c${i}_mean"`,
        `stddev_pop(${x}) AS "c${i}_std"`,
        `approx_quantile(${x}, [${quantileLevels.join(', ')}]) AS "c${i}_q"`,
        `CAST(count_if(isnan(CAST(${c} AS DOUBLE))) AS DOUBLE) AS "c${i}_nan"`,
        `CAST(count_if(isinf(CAST(${c} AS DOUBLE))) AS DOUBLE) AS "c${i}_inf"`,
      )
    } else if (column.type === 'string') {
      selects.push(`avg(length(${c})) AS "c${i}_len"`)
    } else if (column.type === 'boolean') {
      selects.push(`CAST(count_if(${c}) AS DOUBLE) AS "c${i}_true"`)
    } else {
      selects.push(`CAST(min(${c}) AS VARCHAR) AS "c${i}_tmin"`, `CAST(max(${c}) AS VARCHAR) AS "c${i}_tmax"`)
    }
  })
  const [summary = {}] = await duck.rows(`SELECT ${selects.join(', ')} FROM ${source}`)
  const total = num(summary.n)

  const stats: ColumnStatistics[] = columns.map((column, i) => {
    const count = num(summary[`c${i}_count`])
    const base: ColumnStatistics = { name: column.name, type: column.type, count, missing: total - count, distinct: num(summary[`c${i}_distinct`]) }
    if (column.type === 'integer' || column.type === 'number') {
      const q = (summary[`c${i}_q`] as unknown[] | null) ?? []
      base.numeric = {
        min: num(summary[`c${i}_min`]),
        max: num(summary[`c${i}_max`]),
        mean: num(summary[`c${i}_mean`]),
        std: num(summary[`c${i}_std`]),
        quantiles: { p1: num(q[0]), p5: num(q[1]), p25: num(q[2]), p50: num(q[3]), p75: num(q[4]), p95: num(q[5]), p99: num(q[6]) },
        histogram: { edges: [], counts: [] },
        nan: num(summary[`c${i}_nan`]),
        infinite: num(summary[`c${i}_inf`]),
      }
    } else if (column.type === 'string') {
      base.string = { top: [], meanLength: num(summary[`c${i}_len`]) }
    } else if (column.type === 'boolean') {
      const trueCount = num(summary[`c${i}_true`])
      base.boolean = { trueCount, falseCount: count - trueCount }
    } else if (count > 0) {
      base.timestamp = { min: isoOf(summary[`c${i}_tmin`]), max: isoOf(summary[`c${i}_tmax`]) }
    }
    return base
  })

  await fillHistograms(duck, source, columns, stats)
  await fillTopValues(duck, source, columns, stats)
  return stats
}

async function fillHistograms(duck: Duck, source: string, columns: readonly SchemaColumn[], stats: ColumnStatistics[]): Promise<void> {
  const parts: string[] = []
  columns.forEach((column, i) => {
    const numeric = stats[i]?.numeric
    if (numeric === undefined || !Number.isFinite(numeric.min) || !Number.isFinite(numeric.max)) return
    const width = (numeric.max - numeric.min) / histogramBins
    numeric.histogram.edges = Array.from({ length: histogramBins + 1 }, (_, k) => (k === histogramBins ? numeric.max : numeric.min + k * width))
    numeric.histogram.counts = new Array<number>(histogramBins).fill(0)
    const x = `CAST(${ident(column.name)} AS DOUBLE)`
    const bin = width === 0 ? '0' : `least(${histogramBins - 1}, CAST(floor((${x} - ${numeric.min}) / ${width}) AS INTEGER))`
    parts.push(`SELECT ${i} AS col, ${bin} AS bin, CAST(count(*) AS DOUBLE) AS n FROM ${source} WHERE isfinite(${x}) GROUP BY ALL`)
  })
  if (parts.length === 0) return
  for (const row of await duck.rows(parts.join(' UNION ALL '))) {
    const counts = stats[num(row.col)]?.numeric?.histogram.counts
    const bin = num(row.bin)
    if (counts !== undefined && bin >= 0 && bin < counts.length) counts[bin] = num(row.n)
  }
}

async function fillTopValues(duck: Duck, source: string, columns: readonly SchemaColumn[], stats: ColumnStatistics[]): Promise<void> {
  for (const [i, column] of columns.entries()) {
    const target = stats[i]?.string
    if (target === undefined) continue
    const c = ident(column.name)
    const rows = await duck.rows(
      `SELECT ${c} AS v, CAST(count(*) AS DOUBLE) AS n FROM ${source} WHERE ${c} IS NOT NULL GROUP BY ${c} ORDER BY n DESC, v LIMIT ${topValues}`,
    )
    target.top = rows.map((row) => ({ value: String(row.v).slice(0, 200), count: num(row.n) }))
  }
}

/** What validation needs of several batches' statistics together, merged without reading the data again. */
export interface MergedStatistics {
  name: string
  count: number
  missing: number
  /** The sum of the batches' distinct counts: so `distinct / count` is their average share of distinct values. */
  distinct: number
  numeric?: { min: number; max: number }
}

/** Merges stored per-batch statistics column by column (counts add up; ranges widen). */
export function mergeStatistics(batches: readonly (readonly ColumnStatistics[])[]): MergedStatistics[] {
  const merged = new Map<string, MergedStatistics>()
  for (const columns of batches) {
    for (const c of columns) {
      const m = merged.get(c.name) ?? { name: c.name, count: 0, missing: 0, distinct: 0 }
      m.count += c.count
      m.missing += c.missing
      m.distinct += c.distinct
      if (c.numeric !== undefined && Number.isFinite(c.numeric.min) && Number.isFinite(c.numeric.max)) {
        m.numeric = m.numeric === undefined ? { min: c.numeric.min, max: c.numeric.max } : { min: Math.min(m.numeric.min, c.numeric.min), max: Math.max(m.numeric.max, c.numeric.max) }
      }
      merged.set(c.name, m)
    }
  }
  return [...merged.values()]
}
