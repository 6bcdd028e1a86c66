import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { FreshetError, errnoCode, isFreshetError } from '../core/errors.js'
import { formatBytes, parseSize } from '../core/sizes.js'
import { currentSchema, findBatchBySha, type Batch } from './batches.js'
import { datasetSpecOf } from './datasets.js'
import { ident, literal, openDuck, type Duck } from './duckdb.js'
import { detectFormat, type DetectedFormat } from './formats.js'
import { readBatchFile, type ReadBatch } from './read-batch.js'
import { batchIdOf, recordBatch } from './record-batch.js'
import { isBlocking, rowLevelCodes, type Anomaly } from '../validation/anomaly.js'
import { validateCandidate, type ValidationContext } from '../validation/run-validation.js'
import { datasetThresholds } from '../validation/thresholds.js'
import { computeStatistics, type ColumnStatistics } from './statistics.js'
import { scanCsv, scanJsonLines, type TextStructure } from './structure.js'

/** What ingestion needs from a running platform. */
export type IngestContext = ValidationContext

export interface IngestResult {
  /** `duplicate` when the same bytes were ingested before: nothing was written. */
  readonly status: 'ingested' | 'duplicate'
  readonly batch: Batch
  readonly file: string
  /** Set when this batch created a new schema version. */
  readonly schemaChange?: { version: number; changes: string[] }
  /** What validation found (blocking anomalies put the batch in quarantine). */
  readonly anomalies?: Anomaly[]
  /** With `onBadRows: 'split'`: the sub-batch of bad rows, quarantined; `batch` holds the accepted rest. */
  readonly split?: { quarantined: Batch }
}

export const defaultMaxFileSize = 2 * 1024 ** 3


const extensionOf = (detected: DetectedFormat): string => `${detected.format}${detected.compression === 'gzip' ? '.gz' : ''}`

async function stageCopy(file: string, dir: string, limit: number, name: string): Promise<{ path: string; sha256: string; size: number }> {
  const target = path.join(dir, 'source')
  const hash = createHash('sha256')
  let size = 0
  await pipeline(
    createReadStream(file),
    async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        size += chunk.length
        if (size > limit) {
          throw new FreshetError('INPUT_TOO_LARGE', `${name} is larger than the limit of ${formatBytes(limit)}`, {
            file: name,
            hint: 'split the file, or raise `maxFileSize` for the dataset in freshet.config.ts',
          })
        }
        hash.update(chunk)
        yield chunk
      }
    },
    createWriteStream(target),
  )
  return { path: target, sha256: hash.digest('hex'), size }
}

/**
 * Ingests one file into a dataset as one immutable batch: CSV, JSON Lines or Parquet, plain or gzip.
 * The source file is only read. The batch is keyed by the sha256 of its bytes, so ingesting the same bytes again
 * is a no-op that returns the existing batch with status `duplicate`. Every batch is validated; one with a blocking
 * anomaly is stored in state `quarantined` (never visible to training), or with `onBadRows: 'split'` only its bad
 * rows are. Either the whole batch (original bytes, Parquet, schema, statistics, validation) becomes visible, or
 * nothing does.
 * @throws FreshetError `DATASET_NOT_FOUND`, `FILE_NOT_FOUND`, `INPUT_EMPTY`, `INPUT_BINARY`, `INPUT_TOO_LARGE`,
 *   `INPUT_MALFORMED` (naming the line where known).
 */
export async function ingestFile(
  ctx: IngestContext,
  dataset: string,
  file: string,
  options: {
    signal?: AbortSignal
    displayName?: string
    /** The batch's id (instead of one derived from its bytes) and the batch it corrects: a stream window's version. */
    batch?: { id: string; parentId?: string }
  } = {},
): Promise<IngestResult> {
  const identity = options.batch === undefined ? {} : { id: options.batch.id, ...(options.batch.parentId === undefined ? {} : { parentId: options.batch.parentId }) }
  const spec = datasetSpecOf(ctx.config, dataset)
  const name = options.displayName ?? file
  const limit = spec.maxFileSize === undefined ? defaultMaxFileSize : typeof spec.maxFileSize === 'number' ? spec.maxFileSize : parseSize(spec.maxFileSize)
  let info
  try {
    info = await stat(file)
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') throw new FreshetError('FILE_NOT_FOUND', `${name} does not exist`, { file: name, cause: error })
    throw new FreshetError('FILE_NOT_FOUND', `${name} cannot be read: ${(error as Error).message}`, { file: name, cause: error })
  }
  if (!info.isFile()) throw new FreshetError('FILE_NOT_FOUND', `${name} is not a regular file`, { file: name })
  if (info.size > limit) {
    throw new FreshetError('INPUT_TOO_LARGE', `${name} is ${formatBytes(info.size)}, over the limit of ${formatBytes(limit)}`, {
      file: name,
      hint: 'split the file, or raise `maxFileSize` for the dataset in freshet.config.ts',
    })
  }

  const tmpRoot = path.join(ctx.config.stateDir, 'tmp')
  await mkdir(tmpRoot, { recursive: true })
  const staging = await mkdtemp(path.join(tmpRoot, 'ingest-'))
  let duck: Duck | undefined
  try {
    const staged = await stageCopy(file, staging, limit, name)
    const existing = await findBatchBySha(ctx.db, dataset, staged.sha256)
    if (existing !== undefined) return { status: 'duplicate', batch: existing, file: name }
    options.signal?.throwIfAborted()

    const detected = await detectFormat(staged.path, path.basename(name))
    let structure: TextStructure | undefined
    if (detected.format === 'csv') structure = await scanCsv(staged.path, detected.compression, name, spec.csv?.delimiter)
    else if (detected.format === 'jsonl') structure = await scanJsonLines(staged.path, detected.compression, name)
    options.signal?.throwIfAborted()

    duck = await openDuck({ tempDirectory: path.join(staging, 'duckdb') })
    const established = (await currentSchema(ctx.db, dataset))?.columns
    const read: ReadBatch = await readBatchFile(duck, { file: staged.path, name, detected, structure, spec, outDir: staging, ...(established === undefined ? {} : { established }) })
    const statistics = await computeStatistics(duck, read.parquetFile, read.columns)
    options.signal?.throwIfAborted()

    const outcome = await validateCandidate(ctx, duck, { dataset, spec, read, statistics, established })
    const blocking = isBlocking(outcome.report)
    const settings = datasetThresholds(spec.validation)
    const splittable =
      blocking &&
      settings.onBadRows === 'split' &&
      outcome.badRowCondition !== null &&
      outcome.report.anomalies.every((a) => a.severity !== 'blocking' || rowLevelCodes.has(a.code)) &&
      outcome.report.badRows.count < read.rows &&
      outcome.report.badRows.count / read.rows <= settings.maxBadRowFraction
    options.signal?.throwIfAborted()

    const prefix = `datasets/${dataset}/batches/${staged.sha256}`
    const originalKey = `${prefix}/original.${extensionOf(detected)}`
    const put = (key: string, file: string) => ctx.blobs.putStream(key, createReadStream(file), options.signal === undefined ? {} : { signal: options.signal })
    await put(originalKey, staged.path)
    const base = { dataset, sourceName: path.basename(name), detected, sizeBytes: staged.size, columns: read.columns, declared: spec.schema !== undefined, originalKey }
    const eventRange = (stats: ColumnStatistics[]) => {
      const range = spec.eventTime === undefined ? undefined : stats.find((s) => s.name === spec.eventTime)?.timestamp
      return { minEventTime: range?.min ?? null, maxEventTime: range?.max ?? null }
    }
    try {
      if (splittable && outcome.badRowCondition !== null) {
        const good = path.join(staging, 'good.parquet')
        const bad = path.join(staging, 'bad.parquet')
        const columns = read.columns.map((c) => ident(c.name)).join(', ')
        await duck.run(`COPY (SELECT ${columns} FROM cand WHERE NOT (${outcome.badRowCondition}) ORDER BY __r) TO ${literal(good)} (FORMAT parquet, COMPRESSION zstd)`)
        await duck.run(`COPY (SELECT __r AS source_row, ${columns} FROM cand WHERE ${outcome.badRowCondition} ORDER BY __r) TO ${literal(bad)} (FORMAT parquet, COMPRESSION zstd)`)
        const goodStats = await computeStatistics(duck, good, read.columns)
        const badStats = await computeStatistics(duck, bad, read.columns)
        await put(`${prefix}/data.parquet`, good)
        await put(`${prefix}/bad-rows.parquet`, bad)
        const badRows = outcome.report.badRows.count
        const accepted = await recordBatch(ctx.db, { ...base, ...identity, sha256: staged.sha256, rows: read.rows - badRows, dataKey: `${prefix}/data.parquet`, statistics: goodStats, ...eventRange(goodStats), state: 'accepted', validation: outcome.report })
        const quarantined = await recordBatch(ctx.db, {
          ...base,
          id: batchIdOf(dataset, `${staged.sha256}:bad-rows`),
          sha256: createHash('sha256').update(`${staged.sha256}:bad-rows`).digest('hex'),
          rows: badRows,
          dataKey: `${prefix}/bad-rows.parquet`,
          statistics: badStats,
          ...eventRange(badStats),
          state: 'quarantined',
          parentId: accepted.batch.id,
          validation: outcome.report,
        })
        return { status: 'ingested', batch: accepted.batch, file: name, anomalies: outcome.report.anomalies, split: { quarantined: quarantined.batch }, ...(accepted.schemaChange === undefined ? {} : { schemaChange: accepted.schemaChange }) }
      }
      const dataKey = read.parquetFile === staged.path ? originalKey : `${prefix}/data.parquet`
      if (dataKey !== originalKey) await put(dataKey, read.parquetFile)
      const recorded = await recordBatch(ctx.db, { ...base, ...identity, sha256: staged.sha256, rows: read.rows, dataKey, statistics, ...eventRange(statistics), state: blocking ? 'quarantined' : 'accepted', validation: outcome.report })
      return { status: 'ingested', batch: recorded.batch, file: name, anomalies: outcome.report.anomalies, ...(recorded.schemaChange === undefined ? {} : { schemaChange: recorded.schemaChange }) }
    } catch (error) {
      // Two ingests of the same bytes raced: the other one recorded the batch first.
      const again = await findBatchBySha(ctx.db, dataset, staged.sha256)
      if (again !== undefined) return { status: 'duplicate', batch: again, file: name }
      throw error
    }
  } catch (error) {
    if (isFreshetError(error)) throw error
    if (options.signal?.aborted === true) throw new FreshetError('ABORTED', `ingest of ${name} was cancelled`, { file: name, cause: error })
    throw new FreshetError('INPUT_MALFORMED', `${name} could not be ingested: ${(error as Error).message}`, { file: name, cause: error })
  } finally {
    duck?.close()
    await rm(staging, { recursive: true, force: true })
  }
}
