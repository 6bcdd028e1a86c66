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
  /** Columns the dataset expects (event time, label, id, declared or established) that the file lacks. */
  readonly missingColumns: string[]
  readonly typeMismatches: TypeMismatch[]
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

/**
 * The DuckDB table function reading the staged file. With `types` (found by a first DESCRIBE, which reads the
 * whole file to infer them) a CSV is read with those column types instead of being sampled a second time.
 */
function sourceRelation(input: ReadBatchInput, types?: readonly { name: string; duck: string }[]): string {
  const file = literal(input.file)
  const compression = input.detected.compression === 'gzip' ? 'gzip' : 'uncompressed'
  switch (input.detected.format) {
    case 'parquet':
      return `read_parquet(${file})`
    case 'jsonl':
      return `read_json(${file}, format = 'newline_delimited', compression = '${compression}', sample_size = -1)`
    case 'csv':
      return `read_csv(${file}, delim = ${literal(input.structure?.delimiter ?? ',')}, header = true, quote = '"', escape = '"', strict_mode = true, null_padding = false, compression = '${compression}', ${
        types === undefined ? 'sample_size = -1' : `columns = {${types.map((t) => `${literal(t.name)}: ${literal(t.duck)}`).join(', ')}}`
      })`
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

/** Values of a column that could not be read as the column's type (they are stored as null). */
export interface TypeMismatch {
  readonly column: string
  readonly expected: string
  readonly count: number
  /** 1-based data row numbers, all of them (up to a million). */
  readonly rows: number[]
  readonly examples: { row: number; value: string }[]
}

/**
 * Reads a staged file with DuckDB, applies the declared or established column types, and writes it as Parquet
 * (in the file's row order, so row numbers stay meaningful). Values that do not fit a column's type become null
 * and are reported as type mismatches; columns the dataset expects but the file lacks are reported as missing.
 * Checks that DuckDB read exactly as many rows as the structural scan counted.
 */
export async function readBatchFile(duck: Duck, input: ReadBatchInput): Promise<ReadBatch> {
  const sniffing = sourceRelation(input)
  let described: Record<string, unknown>[]
  try {
    described = await duck.rows(`DESCRIBE SELECT * FROM ${sniffing}`)
  } catch (error) {
    throw malformed(input, error)
  }
  const found = described.map((row) => ({ name: String(row.column_name), duck: String(row.column_type) }))
  const relation = input.detected.format === 'csv' ? sourceRelation(input, found) : sniffing
  const names = new Set(found.map((c) => c.name))
  const expected = new Set([
    ...[input.spec.eventTime, input.spec.label, input.spec.id].filter((c): c is string => c !== undefined),
    ...Object.keys(input.spec.schema ?? {}),
    ...(input.established ?? []).map((c) => c.name),
  ])
  const missingColumns = [...expected].filter((c) => !names.has(c))

  const columns: SchemaColumn[] = []
  const selects: string[] = []
  const casts: { column: string; type: string }[] = []
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
      selects.push(`TRY_CAST(${c} AS ${storageTypeOf(declared)}) AS ${c}`)
      casts.push({ column: column.name, type: storageTypeOf(declared) })
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
  const typeMismatches: TypeMismatch[] = []
  for (const cast of casts) {
    const c = ident(cast.column)
    let bad: Record<string, unknown>[]
    try {
      bad = await duck.rows(
        `SELECT r, CAST(v AS VARCHAR) AS v FROM (SELECT row_number() OVER () AS r, ${c} AS v FROM ${relation}) WHERE v IS NOT NULL AND TRY_CAST(v AS ${cast.type}) IS NULL ORDER BY r LIMIT 1000000`,
      )
    } catch (error) {
      throw malformed(input, error)
    }
    if (bad.length > 0) {
      typeMismatches.push({
        column: cast.column,
        expected: cast.type,
        count: bad.length,
        rows: bad.map((b) => Number(b.r)),
        examples: bad.slice(0, 10).map((b) => ({ row: Number(b.r), value: String(b.v).slice(0, 80) })),
      })
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
  return { parquetFile, columns, rows, missingColumns, typeMismatches }
}
