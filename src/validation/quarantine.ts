import { randomUUID } from 'node:crypto'
import type { Platform } from '../app/platform.js'
import { FreshetError } from '../core/errors.js'
import { toBatch, type Batch } from '../data/batches.js'
import type { Anomaly, ValidationReport } from './anomaly.js'

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
export async function decide(platform: Pick<Platform, 'db'>, id: string, action: 'release' | 'discard', who: { actor: string; reason: string }): Promise<QuarantinedBatch> {
  if (who.reason.trim() === '') throw new FreshetError('USAGE', `a reason is required to ${action} a batch: say why, for the audit trail`)
  const batch = await findBatch(platform, id)
  const at = new Date().toISOString()
  await platform.db.transaction().execute(async (trx) => {
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
