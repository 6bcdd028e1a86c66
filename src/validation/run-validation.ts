import type { Platform } from '../app/platform.js'
import type { DatasetSpec } from '../config/schema.js'
import { batchStatistics, listBatches, type Batch } from '../data/batches.js'
import type { Duck } from '../data/duckdb.js'
import { fetchBatchFiles } from '../data/overview.js'
import type { ReadBatch } from '../data/read-batch.js'
import type { SchemaColumn } from '../data/schema.js'
import { mergeStatistics, type ColumnStatistics } from '../data/statistics.js'
import { datasetThresholds } from './thresholds.js'
import { validateBatch, type ValidationOutcome } from './validate.js'

export type ValidationContext = Pick<Platform, 'config' | 'db' | 'blobs' | 'registry'>

const usable = (b: Batch) => b.state === 'accepted' || b.state === 'released'

/**
 * Validates a candidate batch of `dataset` with everything the checks compare against: the most recent accepted
 * batches (drift), and the training batches of the production model of a pipeline on this dataset (skew).
 * Fetched files are removed before returning.
 */
export async function validateCandidate(
  ctx: ValidationContext,
  duck: Duck,
  input: {
    dataset: string
    spec: DatasetSpec
    read: ReadBatch
    statistics: ColumnStatistics[]
    established: readonly SchemaColumn[] | undefined
    /** A batch to leave out of the reference (the one being re-checked). */
    exclude?: string
  },
): Promise<ValidationOutcome> {
  const { dataset, spec, read } = input
  const settings = datasetThresholds(spec.validation)
  const all = await listBatches(ctx.db, dataset)
  const previous = all.filter((b) => usable(b) && b.id !== input.exclude).slice(-settings.referenceBatches)
  const pipelines = Object.entries(ctx.config.config.pipelines ?? {}).filter(([, p]) => p.dataset === dataset)
  const binaryLabel = pipelines.some(([, p]) => p.task === 'binary')

  let skewBatches: Batch[] = []
  let skewModel: { pipeline: string; version: number } | undefined
  for (const [name] of pipelines) {
    const version = await ctx.registry.alias(name, 'production')
    if (version === undefined) continue
    const model = await ctx.registry.version(name, version)
    const ids = new Set(((model.lineage.batches as { id: string }[] | undefined) ?? []).map((b) => b.id))
    skewBatches = all.filter((b) => ids.has(b.id)).slice(-10)
    skewModel = { pipeline: name, version }
    break
  }

  const reference = previous.length === 0 ? undefined : await fetchBatchFiles(ctx, previous)
  const skew =
    skewBatches.length === 0 || skewModel === undefined ? undefined : await fetchBatchFiles(ctx, skewBatches)
  try {
    const established = new Set((input.established ?? []).map((c) => c.name))
    return await validateBatch({
      duck,
      spec,
      candidate: {
        file: read.parquetFile,
        rows: read.rows,
        columns: read.columns,
        statistics: input.statistics,
      },
      read: {
        missingColumns: read.missingColumns,
        typeMismatches: read.typeMismatches,
        newColumns:
          input.established === undefined
            ? []
            : read.columns.filter((c) => !established.has(c.name)).map((c) => c.name),
      },
      reference:
        reference === undefined
          ? undefined
          : {
              files: reference.files,
              batchIds: previous.map((b) => b.id),
              rows: previous.reduce((n, b) => n + b.rows, 0),
              // Stored per-batch statistics merged: the reference is not read again for them.
              statistics: mergeStatistics(await Promise.all(previous.map(async (b) => (await batchStatistics(ctx.db, b.id)) ?? []))),
            },
      skew:
        skew === undefined || skewModel === undefined
          ? undefined
          : { files: skew.files, ...skewModel, batchIds: skewBatches.map((b) => b.id) },
      binaryLabel,
    })
  } finally {
    await reference?.cleanup()
    await skew?.cleanup()
  }
}
