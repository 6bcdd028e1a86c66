import { createHash, randomUUID } from 'node:crypto'
import type { MetadataDb } from '../storage/metadata/database.js'
import { lockForWrite } from '../storage/metadata/write-locks.js'
import { toBatch, type Batch, type BatchState } from './batches.js'
import type { DetectedFormat } from './formats.js'
import { describeSchemaChange, schemaFingerprint, type SchemaColumn } from './schema.js'
import type { ColumnStatistics } from './statistics.js'
import type { ValidationReport } from '../validation/anomaly.js'

export interface NewBatch {
  dataset: string
  sha256: string
  sourceName: string
  detected: DetectedFormat
  sizeBytes: number
  rows: number
  columns: SchemaColumn[]
  declared: boolean
  originalKey: string
  dataKey: string
  minEventTime: string | null
  maxEventTime: string | null
  statistics: ColumnStatistics[]
  state: BatchState
  parentId?: string
  /** Overrides the id derived from the dataset and sha256 (for a split-off sub-batch). */
  id?: string
  validation?: ValidationReport
}

/** A batch id: short, stable for the same bytes in the same dataset. */
export function batchIdOf(dataset: string, sha256: string): string {
  return `b_${createHash('sha256').update(`${dataset}\u0000${sha256}`).digest('hex').slice(0, 16)}`
}

/**
 * Records a batch, its statistics, its validation report and (when an accepted batch's columns differ from the
 * current schema) a new schema version, all in one transaction: a reader sees all of it or none of it.
 * Quarantined batches never change the schema.
 */
export async function recordBatch(db: MetadataDb, input: NewBatch): Promise<{ batch: Batch; schemaChange?: { version: number; changes: string[] } }> {
  const now = new Date().toISOString()
  const id = input.id ?? batchIdOf(input.dataset, input.sha256)
  return db.transaction().execute(async (trx) => {
    // PostgreSQL: the dataset's batches and schema versions are numbered from what is stored; see lockForWrite.
    await lockForWrite(trx, { key: `dataset:${input.dataset}` })
    await trx.insertInto('datasets').values({ name: input.dataset, created_at: now }).onConflict((oc) => oc.column('name').doNothing()).execute()
    const current = await trx.selectFrom('schema_versions').selectAll().where('dataset', '=', input.dataset).orderBy('version', 'desc').executeTakeFirst()
    const fingerprint = schemaFingerprint(input.columns)
    let version = current === undefined ? 1 : Number(current.version)
    let schemaChange: { version: number; changes: string[] } | undefined
    const accepted = input.state === 'accepted' || input.state === 'released'
    if (current === undefined || (accepted && current.fingerprint !== fingerprint)) {
      if (current !== undefined) {
        version += 1
        schemaChange = { version, changes: describeSchemaChange(JSON.parse(current.columns) as SchemaColumn[], input.columns) }
      }
      await trx
        .insertInto('schema_versions')
        .values({
          dataset: input.dataset,
          version,
          columns: JSON.stringify(input.columns),
          source: input.declared ? 'config' : 'inferred',
          batch_id: id,
          fingerprint,
          created_at: now,
        })
        .execute()
    }
    const last = await trx.selectFrom('batches').select((eb) => eb.fn.max('seq').as('seq')).where('dataset', '=', input.dataset).executeTakeFirst()
    const row = {
      id,
      dataset: input.dataset,
      seq: Number(last?.seq ?? 0) + 1,
      sha256: input.sha256,
      source_name: input.sourceName,
      format: input.detected.format,
      compression: input.detected.compression,
      size_bytes: input.sizeBytes,
      row_count: input.rows,
      state: input.state,
      parent_id: input.parentId ?? null,
      schema_version: version,
      original_key: input.originalKey,
      data_key: input.dataKey,
      min_event_time: input.minEventTime,
      max_event_time: input.maxEventTime,
      created_at: now,
    }
    await trx.insertInto('batches').values(row).execute()
    await trx.insertInto('batch_statistics').values({ batch_id: id, columns: JSON.stringify(input.statistics), computed_at: now }).execute()
    if (input.validation !== undefined) {
      await trx.insertInto('batch_validation').values({ batch_id: id, anomalies: JSON.stringify(input.validation.anomalies), report: JSON.stringify(input.validation), validated_at: input.validation.validatedAt }).execute()
    }
    if (input.state === 'quarantined') {
      await trx.insertInto('quarantine_actions').values({ id: randomUUID(), batch_id: id, action: 'quarantine', actor: 'validation', reason: (input.validation?.anomalies ?? []).filter((a) => a.severity === 'blocking').map((a) => a.code).join(', '), at: now }).execute()
    }
    return { batch: toBatch(row), ...(schemaChange === undefined ? {} : { schemaChange }) }
  })
}
