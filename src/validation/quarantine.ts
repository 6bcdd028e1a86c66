import { randomUUID } from 'node:crypto'
import type { Platform } from '../app/platform.js'
import { FreshetError } from '../core/errors.js'
import { toBatch, type Batch } from '../data/batches.js'
import type { Anomaly, ValidationReport } from './anomaly.js'
import { batchStatistics, schemaVersions } from '../data/batches.js'
import { openDuck } from '../data/duckdb.js'
import { datasetSpecOf } from '../data/datasets.js'
import { fetchBatchFiles } from '../data/overview.js'
import { validateCandidate, type ValidationContext } from './run-validation.js'

export interface QuarantineAction {
  readonly batchId: string
  readonly action: 'quarantine' | 'release' | 'discard'
  readonly actor: string
  readonly reason: string
  readonly at: string
}

export interface QuarantinedBatch {
  readonly batch: Batch
  readonly anomalies: Anomaly[]
  readonly report: ValidationReport | undefined
  readonly history: QuarantineAction[]
}

async function findBatch(platform: Pick<Platform, 'db'>, id: string): Promise<Batch> {
  const row = await platform.db.selectFrom('batches').selectAll().where('id', '=', id).executeTakeFirst()
  if (row === undefined) throw new FreshetError('BATCH_NOT_FOUND', `no batch ${JSON.stringify(id)}`, { hint: 'list quarantined batches with `freshet quarantine list`' })
  return toBatch(row)
}

async function details(platform: Pick<Platform, 'db'>, batch: Batch): Promise<QuarantinedBatch> {
  const validation = await platform.db.selectFrom('batch_validation').selectAll().where('batch_id', '=', batch.id).executeTakeFirst()
  const history = await platform.db.selectFrom('quarantine_actions').selectAll().where('batch_id', '=', batch.id).orderBy('at').execute()
  return {
    batch,
    anomalies: validation === undefined ? [] : (JSON.parse(validation.anomalies) as Anomaly[]),
    report: validation === undefined ? undefined : (JSON.parse(validation.report) as ValidationReport),
    history: history.map((h) => ({ batchId: h.batch_id, action: h.action as QuarantineAction['action'], actor: h.actor, reason: h.reason, at: h.at })),
  }
}

async function revalidate(platform: ValidationContext, batch: Batch): Promise<ValidationReport> {
  const spec = datasetSpecOf(platform.config, batch.dataset)
  const schema = (await schemaVersions(platform.db, batch.dataset)).find((v) => v.version === batch.schemaVersion)
  const statistics = (await batchStatistics(platform.db, batch.id)) ?? []
  const previous = await showBatch(platform, batch.id)
  const { files, cleanup } = await fetchBatchFiles(platform, [batch])
  const duck = await openDuck()
  try {
    const file = files[0] as string
    const columns = schema?.columns ?? statistics.map((s) => ({ name: s.name, type: s.type, storage: '' }))
    const present = new Set(statistics.map((s) => s.name))
    const outcome = await validateCandidate(platform, duck, {
      dataset: batch.dataset,
      spec,
      // Problems only the source file showed (a missing column, unreadable values) are carried over as found.
      read: { parquetFile: file, columns: columns.filter((c) => present.has(c.name)), rows: batch.rows, missingColumns: previous.anomalies.filter((a) => a.code === 'MISSING_COLUMN').map((a) => a.column ?? ''), typeMismatches: [] },
      statistics,
      established: undefined,
      exclude: batch.id,
    })
    const carried = previous.anomalies.filter((a) => a.code === 'TYPE_MISMATCH')
    return { ...outcome.report, anomalies: [...carried, ...outcome.report.anomalies] }
  } finally {
    duck.close()
    await cleanup()
  }
}

/** Batches waiting for a decision (state `quarantined`), oldest first, optionally of one dataset. */
export async function listQuarantine(platform: Pick<Platform, 'db'>, dataset?: string): Promise<QuarantinedBatch[]> {
  let query = platform.db.selectFrom('batches').selectAll().where('state', '=', 'quarantined')
  if (dataset !== undefined) query = query.where('dataset', '=', dataset)
  const rows = await query.orderBy('created_at').execute()
  return Promise.all(rows.map((row) => details(platform, toBatch(row))))
}

/** A batch with its validation report and the decisions taken on it. */
export async function showBatch(platform: Pick<Platform, 'db'>, id: string): Promise<QuarantinedBatch> {
  return details(platform, await findBatch(platform, id))
}

/**
 * Decides on a quarantined batch: `release` makes it visible to training (state `released`), `discard` keeps its
 * bytes for audit but never trains on it. Both are recorded with who, when and why, in the same transaction as
 * the state change; a batch that is not quarantined any more is a conflict.
 * @throws FreshetError `BATCH_NOT_FOUND`, `USAGE` for an empty reason, `BATCH_STATE` when the batch is not
 * quarantined.
 */
export async function decide(platform: ValidationContext, id: string, action: 'release' | 'discard', who: { actor: string; reason: string }): Promise<QuarantinedBatch> {
  if (who.reason.trim() === '') throw new FreshetError('USAGE', `a reason is required to ${action} a batch: say why, for the audit trail`)
  const batch = await findBatch(platform, id)
  if (batch.state !== 'quarantined') throw new FreshetError('BATCH_STATE', `batch ${id} is ${batch.state}, not quarantined: there is nothing to ${action}`)
  // A release re-checks the batch against today's reference data, so the record shows what was accepted.
  const recheck = action === 'release' ? await revalidate(platform, batch) : undefined
  const at = new Date().toISOString()
  await platform.db.transaction().execute(async (trx) => {
    if (recheck !== undefined) {
      await trx.updateTable('batch_validation').set({ anomalies: JSON.stringify(recheck.anomalies), report: JSON.stringify(recheck), validated_at: recheck.validatedAt }).where('batch_id', '=', id).execute()
    }
    const updated = await trx
      .updateTable('batches')
      .set({ state: action === 'release' ? 'released' : 'discarded' })
      .where('id', '=', id)
      .where('state', '=', 'quarantined')
      .executeTakeFirst()
    if (Number(updated.numUpdatedRows) !== 1) {
      throw new FreshetError('BATCH_STATE', `batch ${id} is ${batch.state}, not quarantined: there is nothing to ${action}`)
    }
    await trx.insertInto('quarantine_actions').values({ id: randomUUID(), batch_id: id, action, actor: who.actor, reason: who.reason, at }).execute()
  })
  return showBatch(platform, id)
}
