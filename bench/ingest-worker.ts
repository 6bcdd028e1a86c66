/**
 * One side of the ingest benchmark, run by `ingest.ts` in its own process so that its peak RSS is its own.
 * Prints its result as JSON on the last stdout line (see `finishWorker`).
 *
 *   ours <file> <workspace>              Freshet's ingestFile into a fresh workspace
 *   summarize <file> <parquet|csv>        the peer: bare DuckDB SUMMARIZE of the same file
 *   export-csv <parquet> <csv> <rows>     writes the first rows of a Parquet file as CSV
 */
import { finishWorker, secondsSince } from './support.js'

const [mode, file, extra, rowsText] = process.argv.slice(2)
if (file === undefined || extra === undefined) {
  console.error('usage: ingest-worker.js ours|summarize|export-csv <file> <arg> [rows]')
  process.exit(2)
}

const datasets = { flights: { eventTime: 'date' } }

async function ours(source: string, workspace: string): Promise<void> {
  const { configFromObject } = await import('../src/config/load.js')
  const { openPlatform } = await import('../src/app/platform.js')
  const { ingestFile } = await import('../src/data/ingest.js')
  const platform = await openPlatform(configFromObject({ datasets }, workspace))
  try {
    const start = performance.now()
    const result = await ingestFile(platform, 'flights', source)
    const seconds = secondsSince(start)
    if (result.status !== 'ingested') throw new Error(`expected a new batch, got status ${result.status}`)
    finishWorker({ seconds, rows: result.batch.rows })
  } finally {
    await platform.close()
  }
}

async function summarize(source: string, format: string): Promise<void> {
  const { DuckDBInstance } = await import('@duckdb/node-api')
  const reader = format === 'csv' ? 'read_csv' : 'read_parquet'
  // Opening the instance is timed too, as ingestFile's time includes opening its own.
  const start = performance.now()
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' })
  const connection = await instance.connect()
  const result = await connection.runAndReadAll(`SUMMARIZE SELECT * FROM ${reader}($1)`, [source])
  const seconds = secondsSince(start)
  const rows = Number(result.getRowObjectsJson()[0]?.count)
  connection.closeSync()
  instance.closeSync()
  finishWorker({ seconds, rows })
}

async function exportCsv(source: string, target: string, rows: number): Promise<void> {
  const { openDuck, literal } = await import('../src/data/duckdb.js')
  const duck = await openDuck()
  try {
    const start = performance.now()
    // DuckDB keeps insertion order by default, so LIMIT takes the file's first rows.
    await duck.run(
      `COPY (SELECT * FROM read_parquet(${literal(source)}) LIMIT ${rows}) TO ${literal(target)} (FORMAT csv, HEADER)`,
    )
    finishWorker({ seconds: secondsSince(start), rows })
  } finally {
    duck.close()
  }
}

switch (mode) {
  case 'ours':
    await ours(file, extra)
    break
  case 'summarize':
    await summarize(file, extra)
    break
  case 'export-csv':
    await exportCsv(file, extra, Number(rowsText))
    break
  default:
    console.error(`unknown worker mode ${JSON.stringify(mode)}`)
    process.exit(2)
}
