import { mkdirSync } from 'node:fs'
import path from 'node:path'
import SqliteDatabase from 'better-sqlite3'
import { CompiledQuery, Kysely, SqliteAdapter, SqliteDialect, SqliteDriver, type DatabaseConnection, type DialectAdapter, type Driver, type SqliteDialectConfig } from 'kysely'
import type { Database, MetadataDb } from '../database.js'
import { isMigrated, migrateToLatest } from '../migrate.js'

// SQLite runs DDL inside transactions, but Kysely's SQLite adapter says it does not, so its migrator would apply a
// migration statement by statement: a process killed half-way would leave tables that the next start cannot create
// again. Saying so makes every migration, with its bookkeeping row, all-or-nothing.
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true
  }
}

// A deferred `begin` takes the write lock at the transaction's first write; when another process holds it then,
// SQLite answers SQLITE_BUSY at once instead of waiting (it cannot upgrade a read lock without risking a deadlock),
// so two processes migrating a new database together failed with "database is locked". `begin immediate` takes the
// write lock first and waits for it under busy_timeout; readers are not blocked (WAL).
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'))
  }
}

class FreshetSqliteDialect extends SqliteDialect {
  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter()
  }
}

/** The dialect migrations run with: transactional DDL, and transactions that take the write lock first. */
class MigratingSqliteDialect extends FreshetSqliteDialect {
  constructor(private readonly options: SqliteDialectConfig) {
    super(options)
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.options)
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
  if (!(await isMigrated(db))) {
    // Over the same connection; not destroyed, which would close it.
    const migrating = new Kysely<Database>({ dialect: new MigratingSqliteDialect({ database: sqlite }) })
    await migrateToLatest(migrating)
  }
  return db
}
