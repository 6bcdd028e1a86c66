import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import type { FeatureSpec } from '../src/config/schema.js'
import { literal, openDuck } from '../src/data/duckdb.js'
import type { EmailRow } from '../src/examples/spam.js'
import { categorical, cross, numeric, text } from '../src/features/helpers.js'
import type { ColumnarBatch } from '../src/features/transform.js'

/** The datasets of the train benchmark. */
export const datasetNames = ['flights', 'spam'] as const
export type DatasetName = (typeof datasetNames)[number]

/** Raw rows of a dataset in event-time order, with 0/1 labels; the last `testRows` rows are the holdout. */
export interface RawDataset {
  readonly batch: ColumnarBatch
  readonly y: Float64Array
  readonly testRows: number
}

/** The files the worker's `prepare` writes into its folder. */
export const preparedFiles = {
  trainSvm: 'train.svm',
  testSvm: 'test.svm',
  trainBin: 'train.bin',
  testBin: 'test.bin',
} as const

/** Share of the rows, the latest by event time, held out for testing. */
export const holdoutFraction = 0.2

/** The features each dataset is hashed with, and the hash width. */
export const featureSpecs: Record<DatasetName, { hashBits: number; features: Record<string, FeatureSpec> }> =
  {
    flights: {
      hashBits: 20,
      features: {
        origin: categorical(),
        destination: categorical(),
        route: cross(['origin', 'destination']),
        distance: numeric({ buckets: 10 }),
        hour: categorical(),
        weekday: categorical(),
      },
    },
    spam: {
      hashBits: 20,
      features: {
        subject: text(),
        body: text({ maxTokens: 400 }),
        from_domain: categorical(),
      },
    },
  }

/**
 * flights-3m (`vega-datasets`), label `delayed` (delay > 15 minutes), in time order; only the first `limit` rows by
 * time when given. Read column-wise in DuckDB chunks into typed arrays (pulling 3M row objects with `getRows()`
 * costs seconds); airport codes are interned so the 6M strings are ~230 distinct ones.
 */
export async function loadFlights(file: string, limit?: number): Promise<RawDataset> {
  const duck = await openDuck({ memoryLimit: '2GB' })
  try {
    // Ties in `date` are ordered by the other columns so that every run sees the same row order.
    const result = await duck.connection.run(
      `SELECT hour(date)::DOUBLE, isodow(date)::DOUBLE, distance::DOUBLE, origin::VARCHAR, destination::VARCHAR,
              (delay > 15)::DOUBLE
       FROM read_parquet(${literal(file)})
       WHERE date IS NOT NULL AND delay IS NOT NULL
       ORDER BY date, origin, destination, delay, distance
       ${limit === undefined ? '' : `LIMIT ${Math.max(0, Math.floor(limit))}`}`,
    )
    const n = result.rowCount
    const hour = new Float64Array(n)
    const weekday = new Float64Array(n)
    const distance = new Float64Array(n)
    const origin = new Array<string | null>(n)
    const destination = new Array<string | null>(n)
    const y = new Float64Array(n)
    const interned = new Map<string, string>()
    const intern = (value: unknown): string | null => {
      if (typeof value !== 'string') return null
      const known = interned.get(value)
      if (known !== undefined) return known
      interned.set(value, value)
      return value
    }
    const number = (value: unknown): number => (typeof value === 'number' ? value : Number.NaN)
    let row = 0
    for (
      let chunk = await result.fetchChunk();
      chunk !== null && chunk.rowCount > 0;
      chunk = await result.fetchChunk()
    ) {
      const [h, w, d, o, de, label] = chunk.getColumns()
      if (
        h === undefined ||
        w === undefined ||
        d === undefined ||
        o === undefined ||
        de === undefined ||
        label === undefined
      )
        throw new Error('flights query returned fewer columns than selected')
      for (let i = 0; i < chunk.rowCount; i++, row++) {
        hour[row] = number(h[i])
        weekday[row] = number(w[i])
        distance[row] = number(d[i])
        origin[row] = intern(o[i])
        destination[row] = intern(de[i])
        y[row] = number(label[i])
      }
    }
    if (row !== n) throw new Error(`flights: read ${row} rows, the result has ${n}`)
    return {
      batch: { length: n, columns: { hour, weekday, distance, origin, destination } },
      y,
      testRows: Math.round(holdoutFraction * n),
    }
  } finally {
    duck.close()
  }
}

/**
 * The SpamAssassin corpus as `prepareSpam` wrote it to `dir` (monthly JSONL files, rows ordered by `sent_at`),
 * label `is_spam`.
 */
export async function loadSpam(dir: string): Promise<RawDataset> {
  const files = (await readdir(dir)).filter((f) => /^emails-\d{4}-\d{2}\.jsonl$/.test(f)).sort()
  const rows: EmailRow[] = []
  for (const file of files) {
    for (const line of (await readFile(path.join(dir, file), 'utf8')).split('\n')) {
      if (line !== '') rows.push(JSON.parse(line) as EmailRow)
    }
  }
  for (let i = 1; i < rows.length; i++) {
    if (rows[i]!.sent_at < rows[i - 1]!.sent_at)
      throw new Error(`spam: rows are not in sent_at order at row ${i}`)
  }
  return {
    batch: {
      length: rows.length,
      columns: {
        subject: rows.map((r) => r.subject),
        body: rows.map((r) => r.body),
        from_domain: rows.map((r) => r.from_domain),
      },
    },
    y: Float64Array.from(rows, (r) => (r.is_spam ? 1 : 0)),
    testRows: Math.round(holdoutFraction * rows.length),
  }
}

/**
 * Loads a benchmark dataset in time order: flights from `vega-datasets` (the first `limit` rows by time when given),
 * spam by running `prepareSpam` into `<dir>/emails` and reading what it wrote.
 */
export async function loadDataset(dataset: DatasetName, dir: string, limit?: number): Promise<RawDataset> {
  if (dataset === 'flights') {
    const { packageFile } = await import('../src/examples/package-data.js')
    return loadFlights(packageFile('vega-datasets', 'data/flights-3m.parquet'), limit)
  }
  const { prepareSpam } = await import('../src/examples/spam.js')
  const emails = path.join(dir, 'emails')
  await prepareSpam(emails)
  return loadSpam(emails)
}

/** Rows `[start, end)` of a batch (typed arrays are viewed, other columns copied). */
export function sliceBatch(batch: ColumnarBatch, start: number, end: number): ColumnarBatch {
  const columns: Record<string, ArrayLike<unknown>> = {}
  for (const [name, values] of Object.entries(batch.columns)) {
    columns[name] = ArrayBuffer.isView(values)
      ? (values as unknown as Float64Array).subarray(start, end)
      : Array.prototype.slice.call(values, start, end)
  }
  return { length: end - start, columns }
}
