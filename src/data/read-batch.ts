import path from 'node:path'
import type { DatasetSpec } from '../config/schema.js'
import { FreshetError } from '../core/errors.js'
import { ident, literal, type Duck } from './duckdb.js'
import type { DetectedFormat } from './formats.js'
import { columnTypeOf, storageTypeOf, type SchemaColumn } from './schema.js'
import type { TextStructure } from './structure.js'

export interface ReadBatch {
  /** The batch as Parquet: the staged source itself when it already was Parquet and needed no change. */
  readonly parquetFile: string
  readonly columns: SchemaColumn[]
  readonly rows: number
}

export interface ReadBatchInput {
  readonly file: string
  readonly name: string
  readonly detected: DetectedFormat
  readonly structure: TextStructure | undefined
  readonly spec: DatasetSpec
  readonly outDir: string
  /** The dataset's current columns: a batch's values are read as these types, so batches agree. */
  readonly established?: readonly SchemaColumn[]
}

function sourceRelation(input: ReadBatchInput): string {
  const file = literal(input.file)
  const compression = input.detected.compression === 'gzip' ? 'gzip' : 'uncompressed'
  switch (input.detected.format) {
    case 'parquet':
      return `read_parquet(${file})`
    case 'jsonl':
      return `read_json(${file}, format = 'newline_delimited', compression = '${compression}', sample_size = -1)`
    case 'csv':
      return `read_csv(${file}, delim = ${literal(input.structure?.delimiter ?? ',')}, header = true, quote = '"', escape = '"', strict_mode = true, null_padding = false, sample_size = -1, compression = '${compression}')`
  }
}

/** DuckDB's error text, trimmed to its first line and without the echoed SQL. */
function duckMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error)
  return text.split('\n\n')[0]?.split('\nLINE ')[0]?.replace(/\s+/g, ' ').trim() ?? text
}

function lineOf(message: string): number | undefined {
  const match = /(?:on )?line:? (\d+)/i.exec(message)
  return match === null ? undefined : Number(match[1])
}

function malformed(input: ReadBatchInput, error: unknown): FreshetError {
  const message = duckMessage(error).replaceAll(input.file, input.name)
  const line = lineOf(message)
  return new FreshetError('INPUT_MALFORMED', `${input.name}${line === undefined ? '' : ` line ${line}`}: ${message}`, {
    file: input.name,
    ...(line === undefined ? {} : { line }),
    cause: error,
    hint: input.detected.format === 'parquet' ? 'the Parquet file is damaged or truncated: export it again' : 'fix the value named above and re-ingest the file',
  })
}

/**
 * Reads a staged file with DuckDB, applies the declared column types, and writes it as Parquet. Checks that
 * the columns the dataset names (event time, label, id, declared schema) exist and that DuckDB read exactly as
 * many rows as the structural scan counted.
 */
export async function readBatchFile(duck: Duck, input: ReadBatchInput): Promise<ReadBatch> {
  const relation = sourceRelation(input)
  let described: Record<string, unknown>[]
  try {
    described = await duck.rows(`DESCRIBE SELECT * FROM ${relation}`)
  } catch (error) {
    throw malformed(input, error)
  }
  const found = described.map((row) => ({ name: String(row.column_name), duck: String(row.column_type) }))
  const names = new Set(found.map((c) => c.name))
  const required: [string, string | undefined][] = [
    ['eventTime', input.spec.eventTime],
    ['label', input.spec.label],
    ['id', input.spec.id],
    ...Object.keys(input.spec.schema ?? {}).map((c): [string, string] => ['schema', c]),
  ]
  for (const [role, column] of required) {
    if (column !== undefined && !names.has(column)) {
      throw new FreshetError('SCHEMA_CONFLICT', `${input.name} has no column ${JSON.stringify(column)} (the dataset's ${role} column); its columns are: ${[...names].join(', ')}`, {
        file: input.name,
        column,
        hint: 'add the column to the file, or fix the dataset declaration in freshet.config.ts',
      })
    }
  }

  const columns: SchemaColumn[] = []
  const selects: string[] = []
  let changed = false
  const established = new Map((input.established ?? []).map((c) => [c.name, c.type]))
  for (const column of found) {
    const declared =
      input.spec.schema?.[column.name] ??
      established.get(column.name) ??
      (column.name === input.spec.eventTime && columnTypeOf(column.duck) !== 'timestamp' ? 'timestamp' : undefined)
    const inferred = columnTypeOf(column.duck)
    const c = ident(column.name)
    if (declared !== undefined && declared !== inferred) {
      selects.push(`CAST(${c} AS ${storageTypeOf(declared)}) AS ${c}`)
      columns.push({ name: column.name, type: declared, storage: storageTypeOf(declared) })
      changed = true
    } else if (inferred === undefined) {
      // Nested values (JSON objects or lists) are kept as their JSON text.
      selects.push(`CAST(to_json(${c}) AS VARCHAR) AS ${c}`)
      columns.push({ name: column.name, type: 'string', storage: 'VARCHAR' })
      changed = true
    } else {
      selects.push(c)
      columns.push({ name: column.name, type: inferred, storage: column.duck })
    }
  }

  let parquetFile = input.file
  if (input.detected.format !== 'parquet' || changed) {
    parquetFile = path.join(input.outDir, 'data.parquet')
    try {
      await duck.run(`COPY (SELECT ${selects.join(', ')} FROM ${relation}) TO ${literal(parquetFile)} (FORMAT parquet, COMPRESSION zstd)`)
    } catch (error) {
      throw malformed(input, error)
    }
  }
  let rows: number
  try {
    const [count] = await duck.rows(`SELECT CAST(count(*) AS DOUBLE) AS n FROM read_parquet(${literal(parquetFile)})`)
    rows = Number(count?.n)
  } catch (error) {
    throw malformed(input, error)
  }
  if (input.structure !== undefined && rows !== input.structure.records) {
    throw new FreshetError('INPUT_MALFORMED', `${input.name}: the file has ${input.structure.records} records but only ${rows} could be read as rows`, {
      file: input.name,
      hint: 'look for unbalanced quotes or embedded line breaks; nothing was ingested',
    })
  }
  if (rows === 0) {
    throw new FreshetError('INPUT_EMPTY', `${input.name} has a header but no rows`, { file: input.name })
  }
  return { parquetFile, columns, rows }
}
