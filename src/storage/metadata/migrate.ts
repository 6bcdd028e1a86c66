import { Migrator } from 'kysely'
import { FreshetError } from '../../core/errors.js'
import type { MetadataDb } from './database.js'
import { migrationProvider } from './migrations/index.js'

const migrator = (db: MetadataDb) => new Migrator({ db, provider: migrationProvider, migrationTableName: 'freshet_migrations', migrationLockTableName: 'freshet_migrations_lock' })

/** Whether every migration has been applied: a read only, so opening an up-to-date database takes no write lock. */
export async function isMigrated(db: MetadataDb): Promise<boolean> {
  const migrations = await migrator(db).getMigrations()
  return migrations.every((m) => m.executedAt !== undefined)
}

/** Brings the metadata schema to the latest version; safe to call on every start. */
export async function migrateToLatest(db: MetadataDb): Promise<void> {
  const { error, results } = await migrator(db).migrateToLatest()
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown'
    throw new FreshetError('INTERNAL', `metadata migration ${failed} failed: ${(error as Error).message}`, { cause: error })
  }
}
