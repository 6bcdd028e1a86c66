import { createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { Platform } from '../app/platform.js'
import { listBatches, batchStatistics, currentSchema, type Batch } from './batches.js'
import { openDuck } from './duckdb.js'
import { datasetSpecOf } from './datasets.js'
import type { DatasetSchema } from './schema.js'
import type { ValidationReport } from '../validation/anomaly.js'
import { computeStatistics, type ColumnStatistics } from './statistics.js'

export interface DatasetOverview {
  readonly dataset: string
  readonly schema: DatasetSchema | undefined
  /** Rows in batches that training may use (accepted or released). */
  readonly rows: number
  readonly batches: (Batch & { statistics: ColumnStatistics[] | undefined; validation: ValidationReport | undefined })[]
  /** Statistics over all usable batches together; empty when there are none. */
  readonly statistics: ColumnStatistics[]
  readonly minEventTime: string | null
  readonly maxEventTime: string | null
}

const usable = (b: Batch): boolean => b.state === 'accepted' || b.state === 'released'

/** Copies batches' Parquet files from the blob store into a temporary folder, for DuckDB to read. */
export async function fetchBatchFiles(platform: Pick<Platform, 'config' | 'blobs'>, batches: readonly Batch[]): Promise<{ files: string[]; cleanup: () => Promise<void> }> {
  const tmpRoot = path.join(platform.config.stateDir, 'tmp')
  await mkdir(tmpRoot, { recursive: true })
  const dir = await mkdtemp(path.join(tmpRoot, 'read-'))
  const files: string[] = []
  try {
    for (const batch of batches) {
      const file = path.join(dir, `${batch.id}.parquet`)
      await pipeline(await platform.blobs.getStream(batch.dataKey), createWriteStream(file))
      files.push(file)
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true })
    throw error
  }
  return { files, cleanup: () => rm(dir, { recursive: true, force: true }) }
}

/** A dataset's batches with their statistics, and statistics over all its usable rows. */
export async function datasetOverview(platform: Platform, dataset: string): Promise<DatasetOverview> {
  datasetSpecOf(platform.config, dataset)
  const batches = await listBatches(platform.db, dataset)
  const schema = await currentSchema(platform.db, dataset)
  const reports = new Map(
    (await platform.db.selectFrom('batch_validation').select(['batch_id', 'report']).where('batch_id', 'in', batches.length === 0 ? [''] : batches.map((b) => b.id)).execute()).map((r) => [r.batch_id, JSON.parse(r.report) as ValidationReport]),
  )
  const withStats = await Promise.all(batches.map(async (b) => ({ ...b, statistics: await batchStatistics(platform.db, b.id), validation: reports.get(b.id) })))
  const good = batches.filter(usable)
  let statistics: ColumnStatistics[] = []
  if (good.length > 0 && schema !== undefined) {
    const { files, cleanup } = await fetchBatchFiles(platform, good)
    const duck = await openDuck()
    try {
      statistics = await computeStatistics(duck, files, schema.columns)
    } finally {
      duck.close()
      await cleanup()
    }
  }
  const times = good.flatMap((b) => [b.minEventTime, b.maxEventTime]).filter((t): t is string => t !== null).sort()
  return {
    dataset,
    schema,
    rows: good.reduce((sum, b) => sum + b.rows, 0),
    batches: withStats,
    statistics,
    minEventTime: times[0] ?? null,
    maxEventTime: times.at(-1) ?? null,
  }
}
