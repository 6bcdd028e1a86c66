import type { Platform } from '../app/platform.js'
import type { DatasetSpec, FeatureSpec, PipelineSpec } from '../config/schema.js'
import { parseDuration } from '../core/durations.js'
import { FreshetError } from '../core/errors.js'
import { listBatches, currentSchema, type Batch } from '../data/batches.js'
import { ident, literal, openDuck } from '../data/duckdb.js'
import { fetchBatchFiles } from '../data/overview.js'
import type { ColumnarBatch } from '../features/transform.js'

/** The rows a run trains and evaluates on, column by column, in event-time order. */
export interface TrainingRows {
  readonly batch: ColumnarBatch
  readonly labels: Float64Array
  /** Epoch milliseconds per row (NaN when the dataset has no event time). */
  readonly eventTimes: Float64Array
  /** The batches read, for lineage. */
  readonly batches: readonly Pick<Batch, 'id' | 'sha256' | 'rows' | 'sourceName'>[]
  /** Rows skipped because their label is missing. */
  readonly unlabelled: number
  readonly minEventTime: string | null
  readonly maxEventTime: string | null
}

/**
 * The columns each feature reads, with the SQL type they are read as. Numbers are read as DOUBLE and text as
 * VARCHAR; categorical values keep their own type (a DOUBLE cast to text would read 9.0 as "9.0", while a
 * client sending 9 means "9"), except timestamps, which are read as text.
 */
function featureColumns(features: Record<string, FeatureSpec>, types: ReadonlyMap<string, string>): Map<string, string | null> {
  const columns = new Map<string, string | null>()
  const categorical = (column: string) => (types.get(column) === 'timestamp' ? 'VARCHAR' : null)
  for (const [name, spec] of Object.entries(features)) {
    if (spec.type === 'cross') {
      for (const column of spec.columns) if (!columns.has(column)) columns.set(column, categorical(column))
    } else {
      columns.set(name, spec.type === 'numeric' ? 'DOUBLE' : spec.type === 'text' ? 'VARCHAR' : categorical(name))
    }
  }
  return columns
}

/**
 * Reads the pipeline's training rows from the dataset's usable batches (accepted or released) with DuckDB,
 * column-wise in chunks, ordered by event time. Only rows inside the training window are read. With `batchIds`,
 * only those of the usable batches are read (a run resolved its data before training). `options.alsoRead` names
 * more columns to read (another model's features, to score the same rows with it); those the dataset does not
 * have are left out.
 * @throws FreshetError `NO_TRAINING_DATA` when there are no usable labelled rows, `SCHEMA_CONFLICT` when a
 * feature names a column the dataset does not have.
 */
export async function loadTrainingRows(platform: Platform, pipelineName: string, pipeline: PipelineSpec, dataset: DatasetSpec, batchIds?: readonly string[], options: { alsoRead?: Record<string, FeatureSpec> } = {}): Promise<TrainingRows> {
  const label = dataset.label
  if (label === undefined) {
    throw new FreshetError('CONFIG_INVALID', `datasets.${pipeline.dataset}.label is not set: pipeline ${pipelineName} needs a label column to learn from`)
  }
  const pinned = batchIds === undefined ? undefined : new Set(batchIds)
  const usable = (await listBatches(platform.db, pipeline.dataset)).filter((b) => (b.state === 'accepted' || b.state === 'released') && (pinned === undefined || pinned.has(b.id)))
  if (usable.length === 0) {
    throw new FreshetError('NO_TRAINING_DATA', `dataset ${pipeline.dataset} has no usable batches to train pipeline ${pipelineName} on`, {
      hint: `ingest data first: freshet ingest ${pipeline.dataset} <file...>`,
    })
  }
  const schema = await currentSchema(platform.db, pipeline.dataset)
  const types = new Map((schema?.columns ?? []).map((c) => [c.name, c.type]))
  const known = new Set(types.keys())
  const wanted = featureColumns(pipeline.features, types)
  for (const column of [...wanted.keys(), label]) {
    if (!known.has(column)) {
      throw new FreshetError('SCHEMA_CONFLICT', `pipeline ${pipelineName} reads column ${JSON.stringify(column)}, which dataset ${pipeline.dataset} does not have (its columns: ${[...known].join(', ')})`, {
        hint: 'fix the feature names in freshet.config.ts',
      })
    }
  }
  for (const [column, type] of featureColumns(options.alsoRead ?? {}, types)) {
    if (known.has(column) && !wanted.has(column)) wanted.set(column, type)
  }
  const eventTime = dataset.eventTime
  const { files, cleanup } = await fetchBatchFiles(platform, usable)
  const duck = await openDuck()
  try {
    const source = `read_parquet([${files.map(literal).join(', ')}], union_by_name = true)`
    const timeExpr = eventTime === undefined ? 'CAST(NULL AS DOUBLE)' : `CAST(epoch_ms(CAST(${ident(eventTime)} AS TIMESTAMP)) AS DOUBLE)`
    let where = `${ident(label)} IS NOT NULL`
    if (pipeline.training?.window !== undefined && eventTime !== undefined) {
      const windowMs = parseDuration(pipeline.training.window)
      where += ` AND ${timeExpr} > (SELECT max(${timeExpr}) FROM ${source}) - ${windowMs}`
    }
    const [counts] = await duck.rows(`SELECT CAST(count(*) AS DOUBLE) AS total, CAST(count(${ident(label)}) AS DOUBLE) AS labelled FROM ${source}`)
    const selects = [...wanted.entries()].map(([column, type]) => (type === null ? ident(column) : `CAST(${ident(column)} AS ${type}) AS ${ident(column)}`))
    selects.push(`CAST(${ident(label)} AS DOUBLE) AS "__label"`, `${timeExpr} AS "__time"`)
    const result = await duck.connection.run(`SELECT ${selects.join(', ')} FROM ${source} WHERE ${where} ORDER BY "__time", ${ident(label)}`)
    const names = [...wanted.keys()]
    const columns: unknown[][] = names.map(() => [])
    const labels: number[] = []
    const times: number[] = []
    for (;;) {
      const chunk = await result.fetchChunk()
      if (chunk === null || chunk.rowCount === 0) break
      const chunkColumns = chunk.getColumns()
      names.forEach((_, i) => {
        const target = columns[i] as unknown[]
        for (const value of chunkColumns[i] ?? []) target.push(value)
      })
      for (const value of chunkColumns[names.length] ?? []) labels.push(Number(value))
      for (const value of chunkColumns[names.length + 1] ?? []) times.push(value === null ? Number.NaN : Number(value))
    }
    if (labels.length === 0) {
      throw new FreshetError('NO_TRAINING_DATA', `dataset ${pipeline.dataset} has no labelled rows${pipeline.training?.window === undefined ? '' : ` in the training window of ${pipeline.training.window}`}`, {
        hint: `rows need a value in the label column ${label}`,
      })
    }
    const finite = times.filter((t) => Number.isFinite(t))
    return {
      batch: { length: labels.length, columns: Object.fromEntries(names.map((n, i) => [n, columns[i] as unknown[]])) },
      labels: Float64Array.from(labels),
      eventTimes: Float64Array.from(times),
      batches: usable.map((b) => ({ id: b.id, sha256: b.sha256, rows: b.rows, sourceName: b.sourceName })),
      unlabelled: Number(counts?.total) - Number(counts?.labelled),
      minEventTime: finite.length === 0 ? null : new Date(finite[0] as number).toISOString(),
      maxEventTime: finite.length === 0 ? null : new Date(finite[finite.length - 1] as number).toISOString(),
    }
  } finally {
    duck.close()
    await cleanup()
  }
}

/** The rows `indices` of a columnar batch, as a new batch. */
export function selectRows(batch: ColumnarBatch, indices: ArrayLike<number>): ColumnarBatch {
  const columns: Record<string, unknown[]> = {}
  for (const [name, values] of Object.entries(batch.columns)) {
    const out = new Array<unknown>(indices.length)
    for (let i = 0; i < indices.length; i++) out[i] = values[indices[i] as number]
    columns[name] = out
  }
  return { length: indices.length, columns }
}
