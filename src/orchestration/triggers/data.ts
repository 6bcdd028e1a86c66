import type { Platform } from '../../app/platform.js'
import { parseDuration } from '../../core/durations.js'
import { listBatches } from '../../data/batches.js'
import type { Run } from '../run-types.js'
import type { DataTriggerSpec } from './specs.js'

/** How many recent resolved runs are read to know which batches a pipeline has already trained on. */
const pinnedRunsRead = 50

/** What the data trigger of one pipeline saw, and whether it started a run. */
export interface DataDecision {
  readonly pipeline: string
  /** Rows of usable batches no run of the pipeline has resolved yet. */
  readonly newRows: number
  readonly newBatches: readonly string[]
  /** Why a run was (or would have been) started: enough rows, or the interval elapsed. */
  readonly due: 'min-new-rows' | 'interval' | null
  /** Why a due run was not started. */
  readonly blocked: 'cooldown' | 'max-concurrent' | null
  /** The run enqueued, or the unfinished run the same evaluation coalesced into. */
  readonly run: Run | null
}

/** The batch ids the pipeline's recent runs pinned in their `resolve-data` step. */
export async function pinnedBatchIds(platform: Platform, pipeline: string): Promise<Set<string>> {
  const rows = await platform.db
    .selectFrom('run_steps')
    .innerJoin('runs', 'runs.id', 'run_steps.run_id')
    .select('run_steps.details as details')
    .where('runs.pipeline', '=', pipeline)
    .where('run_steps.name', '=', 'resolve-data')
    .where('run_steps.status', '=', 'succeeded')
    .orderBy('runs.seq', 'desc')
    .limit(pinnedRunsRead)
    .execute()
  const pinned = new Set<string>()
  for (const row of rows) {
    const ids = (JSON.parse(row.details) as { batchIds?: unknown }).batchIds
    if (Array.isArray(ids)) for (const id of ids) if (typeof id === 'string') pinned.add(id)
  }
  return pinned
}

/**
 * Evaluates one `{ on: 'data' }` trigger at `now` and enqueues a run when it is due: at least `minNewRows` new
 * rows (default 1 when neither `minNewRows` nor `interval` is set), or `interval` elapsed since the pipeline's
 * last run with at least one new row; and `cooldown` elapsed since the last run started (or was queued); and
 * fewer than `maxConcurrent` (default 1) runs of the pipeline queued or running. New rows are the accepted and
 * released rows of batches no run of the pipeline has pinned. The idempotency key `data:<pipeline>:<latest batch>`
 * makes evaluations that see the same data coalesce into one run.
 */
export async function evaluateDataTrigger(
  platform: Platform,
  pipeline: string,
  dataset: string,
  trigger: DataTriggerSpec,
  now: Date,
): Promise<DataDecision> {
  const pinned = await pinnedBatchIds(platform, pipeline)
  const fresh = (await listBatches(platform.db, dataset)).filter(
    (b) => (b.state === 'accepted' || b.state === 'released') && !pinned.has(b.id),
  )
  const newRows = fresh.reduce((sum, b) => sum + b.rows, 0)
  const base = { pipeline, newRows, newBatches: fresh.map((b) => b.id) }
  const latest = fresh.at(-1)
  if (latest === undefined || newRows === 0) return { ...base, due: null, blocked: null, run: null }

  const last = await platform.db
    .selectFrom('runs')
    .select(['created_at', 'started_at'])
    .where('pipeline', '=', pipeline)
    .orderBy('seq', 'desc')
    .executeTakeFirst()
  const sinceLast =
    last === undefined ? Infinity : now.getTime() - Date.parse(last.started_at ?? last.created_at)
  const minNewRows = trigger.minNewRows ?? (trigger.interval === undefined ? 1 : undefined)
  const due =
    minNewRows !== undefined && newRows >= minNewRows
      ? 'min-new-rows'
      : trigger.interval !== undefined && sinceLast >= parseDuration(trigger.interval)
        ? 'interval'
        : null
  if (due === null) return { ...base, due, blocked: null, run: null }
  if (trigger.cooldown !== undefined && sinceLast < parseDuration(trigger.cooldown))
    return { ...base, due, blocked: 'cooldown', run: null }

  const active = await platform.db
    .selectFrom('runs')
    .select(({ fn }) => fn.countAll<number>().as('n'))
    .where('pipeline', '=', pipeline)
    .where('state', 'in', ['queued', 'running'])
    .executeTakeFirstOrThrow()
  const key = `data:${pipeline}:${latest.id}`
  if (Number(active.n) >= (trigger.maxConcurrent ?? 1)) {
    // An evaluation that already enqueued for this very data coalesces into its run rather than being refused.
    const same = await platform.db
      .selectFrom('runs')
      .select('id')
      .where('pipeline', '=', pipeline)
      .where('idempotency_key', '=', key)
      .where('state', 'in', ['queued', 'running'])
      .executeTakeFirst()
    if (same === undefined) return { ...base, due, blocked: 'max-concurrent', run: null }
    return { ...base, due, blocked: null, run: await platform.runs.get(same.id) }
  }
  const run = await platform.runs.enqueue({
    pipeline,
    trigger: {
      type: 'data',
      actor: 'data-trigger',
      reason:
        due === 'interval'
          ? `${newRows} new rows and the interval of ${trigger.interval ?? ''} elapsed`
          : `${newRows} new rows (at least ${minNewRows ?? 1})`,
      details: { newRows, batches: base.newBatches, due },
    },
    idempotencyKey: key,
  })
  return { ...base, due, blocked: null, run }
}
