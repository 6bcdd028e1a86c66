import type { Platform } from '../app/platform.js'
import type { PipelineSpec } from '../config/schema.js'
import { FreshetError } from '../core/errors.js'
import { listBatches } from '../data/batches.js'
import { datasetSpecOf } from '../data/datasets.js'

/** The data a run pins before training: the dataset's usable batches at that moment. */
export interface ResolvedData {
  readonly dataset: string
  readonly batches: number
  readonly batchIds: readonly string[]
  /** Rows of those batches, labelled or not, before any training window. */
  readonly rows: number
  readonly minEventTime: string | null
  readonly maxEventTime: string | null
}

/**
 * The `resolve-data` step: the accepted or released batches of the pipeline's dataset. The trainer reads exactly
 * these, so a batch that lands while the run trains waits for the next run, and the lineage says what was used.
 * @throws FreshetError `NO_TRAINING_DATA` when there is none, `DATASET_NOT_FOUND`
 */
export async function resolveData(
  platform: Platform,
  pipelineName: string,
  spec: PipelineSpec,
): Promise<ResolvedData> {
  datasetSpecOf(platform.config, spec.dataset)
  const usable = (await listBatches(platform.db, spec.dataset)).filter(
    (b) => b.state === 'accepted' || b.state === 'released',
  )
  if (usable.length === 0) {
    throw new FreshetError(
      'NO_TRAINING_DATA',
      `dataset ${spec.dataset} has no usable batches to train pipeline ${pipelineName} on`,
      {
        hint: `ingest data first: freshet ingest ${spec.dataset} <file...>`,
      },
    )
  }
  const times = (pick: (b: (typeof usable)[number]) => string | null) =>
    usable
      .map(pick)
      .filter((t): t is string => t !== null)
      .sort()
  return {
    dataset: spec.dataset,
    batches: usable.length,
    batchIds: usable.map((b) => b.id),
    rows: usable.reduce((sum, b) => sum + b.rows, 0),
    minEventTime: times((b) => b.minEventTime)[0] ?? null,
    maxEventTime: times((b) => b.maxEventTime).at(-1) ?? null,
  }
}
