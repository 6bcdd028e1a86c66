import type { Selectable } from 'kysely'
import type { BatchTable, MetadataDb } from '../storage/metadata/database.js'
import type { FileFormat, Compression } from './formats.js'
import type { DatasetSchema, SchemaColumn } from './schema.js'
import type { ColumnStatistics } from './statistics.js'

export type BatchState = 'accepted' | 'quarantined' | 'released' | 'discarded'

/** One immutable batch of a dataset, as recorded in the metadata store. */
export interface Batch {
  readonly id: string
  readonly dataset: string
  readonly seq: number
  readonly sha256: string
  readonly sourceName: string
  readonly format: FileFormat
  readonly compression: Compression
  readonly sizeBytes: number
  readonly rows: number
  readonly state: BatchState
  readonly schemaVersion: number
  readonly originalKey: string
  readonly dataKey: string
  readonly minEventTime: string | null
  readonly maxEventTime: string | null
  readonly createdAt: string
  /** The batch this one's bad rows were split off, for a split-off sub-batch. */
  readonly parentId: string | null
}

type BatchRow = Selectable<BatchTable>

export function toBatch(row: BatchRow): Batch {
  return {
    id: row.id,
    dataset: row.dataset,
    seq: Number(row.seq),
    sha256: row.sha256,
    sourceName: row.source_name,
    format: row.format as FileFormat,
    compression: row.compression as Compression,
    sizeBytes: Number(row.size_bytes),
    rows: Number(row.row_count),
    state: row.state as BatchState,
    schemaVersion: Number(row.schema_version),
    originalKey: row.original_key,
    dataKey: row.data_key,
    minEventTime: row.min_event_time,
    maxEventTime: row.max_event_time,
    createdAt: row.created_at,
    parentId: row.parent_id,
  }
}

export async function listBatches(db: MetadataDb, dataset: string): Promise<Batch[]> {
  const rows = await db.selectFrom('batches').selectAll().where('dataset', '=', dataset).orderBy('seq').execute()
  return rows.map(toBatch)
}

export async function findBatchBySha(db: MetadataDb, dataset: string, sha256: string): Promise<Batch | undefined> {
  const row = await db.selectFrom('batches').selectAll().where('dataset', '=', dataset).where('sha256', '=', sha256).executeTakeFirst()
  return row === undefined ? undefined : toBatch(row)
}

export async function batchStatistics(db: MetadataDb, batchId: string): Promise<ColumnStatistics[] | undefined> {
  const row = await db.selectFrom('batch_statistics').select('columns').where('batch_id', '=', batchId).executeTakeFirst()
  return row === undefined ? undefined : (JSON.parse(row.columns) as ColumnStatistics[])
}

export async function schemaVersions(db: MetadataDb, dataset: string): Promise<DatasetSchema[]> {
  const rows = await db.selectFrom('schema_versions').selectAll().where('dataset', '=', dataset).orderBy('version').execute()
  return rows.map((row) => ({
    dataset: row.dataset,
    version: Number(row.version),
    columns: JSON.parse(row.columns) as SchemaColumn[],
    source: row.source as DatasetSchema['source'],
    batchId: row.batch_id,
    createdAt: row.created_at,
  }))
}

export async function currentSchema(db: MetadataDb, dataset: string): Promise<DatasetSchema | undefined> {
  return (await schemaVersions(db, dataset)).at(-1)
}
