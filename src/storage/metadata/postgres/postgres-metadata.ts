import { Kysely, PostgresDialect, sql } from 'kysely'
import type { PoolConfig } from 'pg'
import { FreshetError } from '../../../core/errors.js'
import type { Database, MetadataDb } from '../database.js'
import { migrateToLatest } from '../migrate.js'

export interface PostgresMetadataOptions {
  /** Most connections the pool opens (default 10). */
  readonly maxConnections?: number
  /** How long to wait for a connection (a new one, or a free one of the pool) before failing, in ms (default 10 000). */
  readonly connectTimeoutMs?: number
}

/**
 * Opens the metadata database on PostgreSQL and migrates it with the same migrations as SQLite. Every migration
 * runs in one transaction with its bookkeeping row (PostgreSQL has transactional DDL), under the migrator's advisory
 * lock, so processes that start together apply each migration once.
 *
 * `url` is a libpq connection URI: `postgres://` or `postgresql://`, then `user[:password]@host[:port]/database`
 * and optional parameters (`?sslmode=require`, `?application_name=…`, `?options=-c%20search_path%3Dfreshet`).
 * Integers are read back as numbers, as on SQLite.
 * @throws FreshetError `CONFIG_INVALID` for a URL that is not a PostgreSQL one, `BACKEND_UNAVAILABLE` when the server
 * cannot be reached or refuses the connection.
 * @example const db = await openPostgresMetadata('postgres://freshet@db.internal:5432/freshet')
 */
export async function openPostgresMetadata(
  url: string,
  options: PostgresMetadataOptions = {},
): Promise<MetadataDb> {
  const where = describeUrl(url)
  for (const [name, value] of Object.entries(options)) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) {
      throw new FreshetError(
        'USAGE',
        `openPostgresMetadata: ${name} must be a positive integer, got ${value}`,
      )
    }
  }
  const { default: pg } = await import('pg')
  // pg leaves bigint (sizes, tokens, `count(*)`) and numeric (`sum`) as strings; SQLite gives numbers.
  const parseInt8 = (text: string): number => {
    const value = Number(text)
    if (!Number.isSafeInteger(value)) {
      throw new FreshetError(
        'INTERNAL',
        `PostgreSQL returned the integer ${text}, beyond what Freshet can hold exactly`,
      )
    }
    return value
  }
  const types = new pg.TypeOverrides()
  types.setTypeParser(pg.types.builtins.INT8, parseInt8)
  types.setTypeParser(pg.types.builtins.NUMERIC, Number)
  const config: PoolConfig = {
    connectionString: url,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    fallback_application_name: 'freshet',
    types,
  }
  const pool = new pg.Pool(config)
  // An idle connection that the server closed: pg drops it from the pool and the next query opens another. Without a
  // listener, the pool's `error` event would end the process.
  pool.on('error', () => undefined)
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
  try {
    await sql`select 1`.execute(db)
  } catch (error) {
    await db.destroy()
    throw unavailable(where, error)
  }
  try {
    await migrateToLatest(db)
  } catch (error) {
    await db.destroy()
    throw error
  }
  return db
}

/** The URL without its password, for messages; rejects what is not a PostgreSQL URL. */
function describeUrl(url: string): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch (error) {
    throw notPostgres(url.replace(/:[^:@/]*@/, ':***@'), error)
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:')
    throw notPostgres(parsed.protocol, undefined)
  if (parsed.password !== '') parsed.password = '***'
  return parsed.toString()
}

function notPostgres(what: string, cause: unknown): FreshetError {
  return new FreshetError('CONFIG_INVALID', `the metadata backend ${what} is not a PostgreSQL URL`, {
    cause,
    hint: 'write it as postgres://user:password@host:5432/database',
  })
}

function unavailable(where: string, error: unknown): FreshetError {
  const code = (error as { code?: unknown }).code
  const message = error instanceof Error ? error.message : String(error)
  const hint =
    code === '3D000'
      ? 'create the database first (createdb NAME, or CREATE DATABASE), or point the URL at one that exists'
      : code === '28P01' || code === '28000'
        ? 'check the user and password in the URL, and pg_hba.conf on the server'
        : 'check that PostgreSQL is running and that the host and port in the URL are right'
  return new FreshetError(
    'BACKEND_UNAVAILABLE',
    `cannot use the PostgreSQL metadata database at ${where}: ${message}`,
    {
      cause: error,
      hint,
    },
  )
}
