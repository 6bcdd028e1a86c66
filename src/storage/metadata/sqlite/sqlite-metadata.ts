import { mkdirSync } from 'node:fs'
import path from 'node:path'
import SqliteDatabase from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import type { Database, MetadataDb } from '../database.js'
import { migrateToLatest } from '../migrate.js'

/**
 * Opens (creating if needed) the embedded SQLite metadata database and migrates it.
 * WAL for concurrent readers, `synchronous=FULL` so a committed transaction survives power loss, and a busy
 * timeout so a second process (a worker, the CLI) waits for a lock instead of failing.
 */
export async function openSqliteMetadata(file: string): Promise<MetadataDb> {
  if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true })
  const sqlite = new SqliteDatabase(file)
  sqlite.pragma('journal_mode = WAL')
  sqlite.pragma('synchronous = FULL')
  sqlite.pragma('busy_timeout = 5000')
  sqlite.pragma('foreign_keys = ON')
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) })
  await migrateToLatest(db)
  return db
}
