import { Migrator } from 'kysely'
import { FreshetError } from '../../core/errors.js'
import type { MetadataDb } from './database.js'
import { migrationProvider } from './migrations/index.js'

/** Brings the metadata schema to the latest version; safe to call on every start. */
export async function migrateToLatest(db: MetadataDb): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider, migrationTableName: 'freshet_migrations', migrationLockTableName: 'freshet_migrations_lock' })
  const { error, results } = await migrator.migrateToLatest()
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown'
    throw new FreshetError('INTERNAL', `metadata migration ${failed} failed: ${(error as Error).message}`, { cause: error })
  }
}
