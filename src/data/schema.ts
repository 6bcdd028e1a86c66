import { createHash } from 'node:crypto'
import type { ColumnType } from '../config/schema.js'

export interface SchemaColumn {
  readonly name: string
  readonly type: ColumnType
  /** DuckDB's type of the column in the stored Parquet. */
  readonly storage: string
}

export interface DatasetSchema {
  readonly dataset: string
  readonly version: number
  readonly columns: readonly SchemaColumn[]
  readonly source: 'config' | 'inferred'
  readonly batchId: string | null
  readonly createdAt: string
}

/** Maps a DuckDB type name to a Freshet column type; undefined for nested or binary types. */
export function columnTypeOf(duckType: string): ColumnType | undefined {
  const t = duckType.toUpperCase()
  if (t === 'BOOLEAN') return 'boolean'
  if (/^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$/.test(t)) return 'integer'
  if (/^(FLOAT|DOUBLE|REAL|DECIMAL)/.test(t)) return 'number'
  if (t === 'VARCHAR' || t === 'UUID') return 'string'
  if (/^(TIMESTAMP|DATE)/.test(t)) return 'timestamp'
  return undefined
}

/** The DuckDB type a declared column is stored as. */
export function storageTypeOf(type: ColumnType): string {
  switch (type) {
    case 'boolean':
      return 'BOOLEAN'
    case 'integer':
      return 'BIGINT'
    case 'number':
      return 'DOUBLE'
    case 'string':
      return 'VARCHAR'
    case 'timestamp':
      return 'TIMESTAMP WITH TIME ZONE'
  }
}

/** A stable hash of names and types, to tell whether two schemas are the same. */
export function schemaFingerprint(columns: readonly SchemaColumn[]): string {
  const text = columns.map((c) => `${c.name}\u0000${c.type}`).join('\u0001')
  return createHash('sha256').update(text).digest('hex')
}

/** How `next` differs from `previous`, for messages: added, removed and retyped columns. */
export function describeSchemaChange(previous: readonly SchemaColumn[], next: readonly SchemaColumn[]): string[] {
  const before = new Map(previous.map((c) => [c.name, c.type]))
  const after = new Map(next.map((c) => [c.name, c.type]))
  const changes: string[] = []
  for (const [name, type] of after) {
    const old = before.get(name)
    if (old === undefined) changes.push(`new column ${name} (${type})`)
    else if (old !== type) changes.push(`column ${name} changed from ${old} to ${type}`)
  }
  for (const name of before.keys()) if (!after.has(name)) changes.push(`column ${name} is missing`)
  return changes
}
