import { PostgresAdapter, sql, type Kysely } from 'kysely'
import { FreshetError } from '../../core/errors.js'
import type { MetadataDb } from './database.js'

/**
 * What a writer must hold before it computes a number from what is stored (`max(seq) + 1`, the next schema version):
 * a named key (a pipeline's versions and aliases, a dataset's batches) or a row (a run, for its events).
 */
export type WriteLock = { readonly key: string } | { readonly row: 'runs'; readonly id: string }

/** Whether `db`, or the transaction it is, talks to PostgreSQL. */
export function isPostgres(db: Kysely<unknown> | MetadataDb): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter
}

/**
 * Takes `lock` until the transaction `trx` ends, so that writers of the same key go one after the other and each
 * sees what the one before it committed.
 *
 * SQLite needs nothing: a transaction that has written holds the database's only write lock until it ends (which is
 * why writers there start with a write). PostgreSQL runs READ COMMITTED, where two transactions would read the same
 * `max(seq)` and collide on the unique key; a transaction-scoped advisory lock (or the row's lock) makes the second
 * wait for the first to end, and its next statement sees the first one's commit.
 *
 * Take a key before any row lock of the same transaction when you can: waits then always go the same way round.
 * @throws FreshetError `INTERNAL` on PostgreSQL outside a transaction (the lock would end with the statement).
 */
export async function lockForWrite(trx: MetadataDb, lock: WriteLock): Promise<void> {
  if (!isPostgres(trx)) return
  if (!trx.isTransaction) {
    throw new FreshetError('INTERNAL', `a write lock on ${describe(lock)} was taken outside a transaction`, {
      hint: 'take it inside db.transaction(), or use withWriteLock',
    })
  }
  if ('key' in lock) {
    await sql`select pg_advisory_xact_lock(hashtextextended(${lock.key}, 0))`.execute(trx)
  } else {
    await trx.selectFrom(lock.row).select('id').where('id', '=', lock.id).forUpdate().execute()
  }
}

/**
 * Runs `fn` holding `lock` (see {@link lockForWrite}). On PostgreSQL outside a transaction, `fn` runs in a new one,
 * which commits when it returns; on SQLite, and inside a transaction, `fn` gets `db` itself.
 */
export async function withWriteLock<T>(
  db: MetadataDb,
  lock: WriteLock,
  fn: (db: MetadataDb) => Promise<T>,
): Promise<T> {
  if (!isPostgres(db)) return fn(db)
  if (db.isTransaction) {
    await lockForWrite(db, lock)
    return fn(db)
  }
  return db.transaction().execute(async (trx) => {
    await lockForWrite(trx, lock)
    return fn(trx)
  })
}

const describe = (lock: WriteLock): string => ('key' in lock ? `key ${lock.key}` : `${lock.row} ${lock.id}`)
