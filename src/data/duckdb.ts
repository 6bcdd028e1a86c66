import type { DuckDBConnection, DuckDBInstance, DuckDBValue } from '@duckdb/node-api'

/** A DuckDB connection with Freshet's settings: bounded threads and memory, temp files in our state folder. */
export interface Duck {
  /** Runs a statement; user values always go in `params`, never into the SQL text. */
  run(sql: string, params?: DuckDBValue[]): Promise<void>
  /** Runs a query and returns its rows as JSON-safe objects (bigints become strings, times ISO-like strings). */
  rows(sql: string, params?: DuckDBValue[]): Promise<Record<string, unknown>[]>
  readonly connection: DuckDBConnection
  close(): void
}

export interface DuckOptions {
  threads?: number
  memoryLimit?: string
  tempDirectory?: string
}

export async function openDuck(options: DuckOptions = {}): Promise<Duck> {
  const { DuckDBInstance } = await import('@duckdb/node-api')
  const instance: DuckDBInstance = await DuckDBInstance.create(':memory:', {
    threads: String(options.threads ?? 2),
    memory_limit: options.memoryLimit ?? '1GB',
    ...(options.tempDirectory === undefined ? {} : { temp_directory: options.tempDirectory }),
  })
  const connection = await instance.connect()
  return {
    connection,
    async run(sql, params) {
      await connection.run(sql, params)
    },
    async rows(sql, params) {
      const reader = await connection.runAndReadAll(sql, params)
      return reader.getRowObjectsJson()
    },
    close() {
      connection.closeSync()
      instance.closeSync()
    },
  }
}

/** A SQL identifier from user data (a column name from a file header), always quoted. */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

/**
 * A SQL string literal. Only for file paths Freshet generates itself (DuckDB's COPY takes no parameters);
 * user values are bound as parameters instead.
 */
export function literal(text: string): string {
  if (text.includes('\u0000')) throw new Error('NUL in SQL literal')
  return `'${text.replaceAll("'", "''")}'`
}
