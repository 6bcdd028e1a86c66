import type { Platform } from '../../app/platform.js'
import type { IngestResult } from '../../data/ingest.js'
import type { Run } from '../run-types.js'
import { triggersOf } from './specs.js'

/**
 * The storage trigger: each pipeline of `dataset` with `{ on: 'storage' }` gets one run per accepted batch
 * (idempotency key `storage:<batchId>`). A batch that already has such a run, finished or not, gets no second one,
 * so calling this again for a duplicate file (or after a crash between ingest and enqueue) is safe.
 * @returns the runs enqueued now
 */
export async function enqueueStorageRuns(
  platform: Platform,
  dataset: string,
  result: IngestResult,
  file: string,
): Promise<Run[]> {
  if (result.batch.state !== 'accepted' && result.batch.state !== 'released') return []
  const key = `storage:${result.batch.id}`
  const enqueued: Run[] = []
  for (const { pipeline } of triggersOf(platform.config.config, 'storage')) {
    if (platform.config.config.pipelines?.[pipeline]?.dataset !== dataset) continue
    const existing = await platform.db
      .selectFrom('runs')
      .select('id')
      .where('pipeline', '=', pipeline)
      .where('idempotency_key', '=', key)
      .executeTakeFirst()
    if (existing !== undefined) continue
    enqueued.push(
      await platform.runs.enqueue({
        pipeline,
        trigger: {
          type: 'storage',
          actor: 'landing',
          reason: `${result.file} landed as batch ${result.batch.id} (${result.batch.rows} rows)`,
          details: { file, batchId: result.batch.id, rows: result.batch.rows },
        },
        idempotencyKey: key,
      }),
    )
  }
  return enqueued
}
