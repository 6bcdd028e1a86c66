import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { FreshetError } from '../core/errors.js'
import { packageFile } from './package-data.js'
import type { PrepareOptions, PrepareReport } from './package-data.js'

const packageName = 'vega-datasets'
const sourceFile = 'data/flights-3m.parquet'

export interface PrepareFlightsOptions extends PrepareOptions {
  /** Only the first N weeks (for quick tests and demos). */
  limitWeeks?: number
}

const columns = `date::TIMESTAMP AS date, delay::BIGINT AS delay, distance::BIGINT AS distance,
  origin::VARCHAR AS origin, destination::VARCHAR AS destination, delay > 15 AS delayed`

/**
 * Writes the US flights of January-June 2001 (package `vega-datasets`, `data/flights-3m.parquet`, 3,000,000 rows)
 * to `outDir` as one Parquet file per ISO week, `flights-YYYY-MM-DD.parquet` named by the week's Monday, columns
 * `date, delay, distance, origin, destination, delayed` (`delay > 15`), rows ordered by `date`. Rows without a
 * date go to `rejected.parquet`. Same bytes on every run of the same DuckDB version.
 *
 * @throws FreshetError `EXAMPLE_DATA_MISSING` when the package is not installed; `USAGE` for a bad `limitWeeks`.
 * @example
 * const report = await prepareFlights('data/flights', { limitWeeks: 2 })
 */
export async function prepareFlights(
  outDir: string,
  options: PrepareFlightsOptions = {},
): Promise<PrepareReport> {
  const { limitWeeks } = options
  if (limitWeeks !== undefined && !(Number.isInteger(limitWeeks) && limitWeeks > 0)) {
    throw new FreshetError('USAGE', `limitWeeks must be a positive whole number, got ${limitWeeks}.`)
  }
  const progress = options.onProgress ?? (() => {})
  const input = packageFile(packageName, sourceFile)
  await mkdir(outDir, { recursive: true })

  // Loaded here so that commands which never touch the flights example never load DuckDB.
  const { DuckDBInstance } = await import('@duckdb/node-api')
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' })
  const connection = await instance.connect()
  try {
    const counted = await connection.runAndReadAll(
      `SELECT strftime(date_trunc('week', date), '%Y-%m-%d') AS week, count(*) AS n
       FROM read_parquet($1) GROUP BY week ORDER BY week NULLS LAST`,
      [input],
    )
    let weeks: { monday: string; rows: number }[] = []
    let missingDates = 0
    for (const [week, n] of counted.getRows()) {
      if (week === null) missingDates = Number(n)
      else if (typeof week === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(week))
        weeks.push({ monday: week, rows: Number(n) })
      else throw new FreshetError('INTERNAL', `DuckDB returned an unexpected week ${String(week)}.`)
    }
    const total = weeks.reduce((sum, week) => sum + week.rows, missingDates)
    progress(`Reading ${total.toLocaleString('en-US')} flights (${weeks.length} weeks) from ${packageName}`)
    if (limitWeeks !== undefined) weeks = weeks.slice(0, limitWeeks)

    const files: PrepareReport['files'] = []
    for (const { monday, rows } of weeks) {
      const path = join(outDir, `flights-${monday}.parquet`)
      await connection.run(
        `COPY (SELECT ${columns} FROM read_parquet($1)
               WHERE date >= $2::TIMESTAMP AND date < $2::TIMESTAMP + INTERVAL 7 DAY
               ORDER BY date, origin, destination, delay, distance)
         TO ${sqlPath(path)} (FORMAT parquet)`,
        [input, monday],
      )
      files.push({ path, rows })
    }
    const rows = files.reduce((sum, file) => sum + file.rows, 0)
    const report: PrepareReport = { files, rows, rejected: { count: missingDates, reasons: {} } }
    if (missingDates > 0) {
      const path = join(outDir, 'rejected.parquet')
      await connection.run(
        `COPY (SELECT *, 'date_missing' AS reason FROM read_parquet($1) WHERE date IS NULL)
         TO ${sqlPath(path)} (FORMAT parquet)`,
        [input],
      )
      report.rejected = { count: missingDates, path, reasons: { date_missing: missingDates } }
    }
    progress(`Wrote ${rows.toLocaleString('en-US')} flights to ${files.length} weekly files in ${outDir}`)
    if (missingDates > 0)
      progress(`Set aside ${missingDates} flights without a date in ${report.rejected.path ?? ''}`)
    return report
  } finally {
    connection.closeSync()
    instance.closeSync()
  }
}

/**
 * COPY TO takes no parameter for its target, so the path is a string literal. It is built only from `outDir` and
 * names generated here (`flights-YYYY-MM-DD.parquet`, `rejected.parquet`); quotes are doubled.
 */
function sqlPath(path: string): string {
  return `'${path.replaceAll("'", "''")}'`
}
