import { mkdirSync } from 'node:fs'
import path from 'node:path'
import SqliteDatabase from 'better-sqlite3'
import { Kysely, SqliteAdapter, SqliteDialect, type DialectAdapter } from 'kysely'
import type { Database, MetadataDb } from '../database.js'
import { migrateToLatest } from '../migrate.js'

// SQLite runs DDL inside transactions, but Kysely's SQLite adapter says it does not, so its migrator would apply a
// migration statement by statement: a process killed half-way would leave tables that the next start cannot create
// again. Saying so makes every migration, with its bookkeeping row, all-or-nothing.
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true
  }
}

class FreshetSqliteDialect extends SqliteDialect {
  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter()
  }
}

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
  const db = new Kysely<Database>({ dialect: new FreshetSqliteDialect({ database: sqlite }) })
  await migrateToLatest(db)
  return db
}
