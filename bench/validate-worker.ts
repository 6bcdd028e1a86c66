/**
 * One side of the validation benchmark, run by `validate.ts` in its own process so that its peak RSS is its own.
 * Prints its result as JSON on the last stdout line (see `finishWorker`).
 *
 *   prepare <dir>                  flights-3m by week into <dir>/weeks, and all weeks as one <dir>/flights-3m.parquet
 *   export-csv <parquet> <csv>     the same rows as CSV, for a pandas without a Parquet reader
 *   ours <dir> <workspace>         Freshet's validation of <dir>/flights-3m.parquet in a fresh workspace
 */
import path from 'node:path'
import { finishWorker, secondsSince } from './support.js'

const [mode, first, second] = process.argv.slice(2)
if (first === undefined) {
  console.error('usage: validate-worker.js prepare|export-csv|ours <arg> [arg]')
  process.exit(2)
}

/** The same dataset and pipeline as test/validation-flights.test.ts: the binary pipeline makes the label checked. */
const config = {
  datasets: { flights: { eventTime: 'date', label: 'delayed' } },
  pipelines: {
    delays: {
      dataset: 'flights',
      task: 'binary',
      features: { origin: { type: 'categorical' }, distance: { type: 'numeric' } },
      trainer: { type: 'linear', hashBits: 16 },
    },
  },
} as const

/** Weeks of history before the candidate: validation compares with the latest `referenceBatches` (4) of them. */
const referenceWeeks = { from: 9, to: 13 }

export interface PrepareReport {
  readonly rows: number
  readonly weeks: number
  readonly seconds: number
}

export interface OursReport {
  readonly rows: number
  readonly referenceRows: number
  /** readBatchFile: the schema read and type check that ingest runs before validating (not validation). */
  readonly loadSeconds: number
  /** computeStatistics of the candidate: counts, moments, quantiles, histograms, top values (as describe()). */
  readonly statisticsSeconds: number
  /** validateCandidate: fetch the reference batches, their statistics, then every check of validateBatch. */
  readonly validateSeconds: number
  readonly anomalies: string[]
}

async function prepare(dir: string): Promise<void> {
  const { prepareFlights } = await import('../src/examples/flights.js')
  const { literal, openDuck } = await import('../src/data/duckdb.js')
  const start = performance.now()
  const report = await prepareFlights(path.join(dir, 'weeks'))
  const duck = await openDuck()
  try {
    // DuckDB keeps insertion order by default, so the file holds the weeks in order.
    const files = report.files.map((f) => literal(f.path)).join(', ')
    await duck.run(
      `COPY (SELECT * FROM read_parquet([${files}])) TO ${literal(path.join(dir, 'flights-3m.parquet'))} (FORMAT parquet)`,
    )
  } finally {
    duck.close()
  }
  finishWorker({ rows: report.rows, weeks: report.files.length, seconds: secondsSince(start) })
}

async function exportCsv(source: string, target: string): Promise<void> {
  const { literal, openDuck } = await import('../src/data/duckdb.js')
  const duck = await openDuck()
  try {
    const start = performance.now()
    await duck.run(
      `COPY (SELECT * FROM read_parquet(${literal(source)})) TO ${literal(target)} (FORMAT csv, HEADER)`,
    )
    const [count] = await duck.rows(
      `SELECT CAST(count(*) AS DOUBLE) AS n FROM read_parquet(${literal(source)})`,
    )
    finishWorker({ rows: Number(count?.n), seconds: secondsSince(start) })
  } finally {
    duck.close()
  }
}

async function ours(dir: string, workspace: string): Promise<void> {
  const { configFromObject } = await import('../src/config/load.js')
  const { openPlatform } = await import('../src/app/platform.js')
  const { ingestFile } = await import('../src/data/ingest.js')
  const { currentSchema } = await import('../src/data/batches.js')
  const { openDuck } = await import('../src/data/duckdb.js')
  const { detectFormat } = await import('../src/data/formats.js')
  const { readBatchFile } = await import('../src/data/read-batch.js')
  const { computeStatistics } = await import('../src/data/statistics.js')
  const { validateCandidate } = await import('../src/validation/run-validation.js')
  const { readdir } = await import('node:fs/promises')

  const platform = await openPlatform(configFromObject(config, workspace))
  const duck = await openDuck({ tempDirectory: path.join(workspace, 'duckdb') })
  try {
    const weeks = (await readdir(path.join(dir, 'weeks'))).filter((f) => f.startsWith('flights-')).sort()
    let referenceRows = 0
    for (const week of weeks.slice(referenceWeeks.from, referenceWeeks.to)) {
      const result = await ingestFile(platform, 'flights', path.join(dir, 'weeks', week))
      if (result.batch.state !== 'accepted')
        throw new Error(`reference week ${week} was ${result.batch.state}`)
      referenceRows += result.batch.rows
    }
    const spec = platform.config.config.datasets?.flights
    if (spec === undefined) throw new Error('the flights dataset is not configured')
    const established = (await currentSchema(platform.db, 'flights'))?.columns
    const file = path.join(dir, 'flights-3m.parquet')

    // The same steps, on the same DuckDB settings, as ingestFile runs them between staging and storing.
    let start = performance.now()
    const detected = await detectFormat(file, path.basename(file))
    const read = await readBatchFile(duck, {
      file,
      name: path.basename(file),
      detected,
      structure: undefined,
      spec,
      outDir: workspace,
      ...(established === undefined ? {} : { established }),
    })
    const loadSeconds = secondsSince(start)
    start = performance.now()
    const statistics = await computeStatistics(duck, read.parquetFile, read.columns)
    const statisticsSeconds = secondsSince(start)
    start = performance.now()
    const outcome = await validateCandidate(platform, duck, {
      dataset: 'flights',
      spec,
      read,
      statistics,
      established,
    })
    const validateSeconds = secondsSince(start)
    finishWorker({
      rows: read.rows,
      referenceRows,
      loadSeconds,
      statisticsSeconds,
      validateSeconds,
      anomalies: outcome.report.anomalies.map((a) => `${a.severity} ${a.code}(${a.column ?? '-'})`),
    } satisfies OursReport)
  } finally {
    duck.close()
    await platform.close()
  }
}

switch (mode) {
  case 'prepare':
    await prepare(first)
    break
  case 'export-csv':
    if (second === undefined) throw new Error('export-csv needs <parquet> <csv>')
    await exportCsv(first, second)
    break
  case 'ours':
    if (second === undefined) throw new Error('ours needs <dir> <workspace>')
    await ours(first, second)
    break
  default:
    console.error(`unknown worker mode ${JSON.stringify(mode)}`)
    process.exit(2)
}
