import type { Migration, MigrationProvider } from 'kysely'
import { datasets001 } from './001-datasets.js'
import { models002 } from './002-models.js'

/** Every migration, in order. Names sort lexically; never rename or edit one that has shipped. */
const migrations: Record<string, Migration> = {
  '001-datasets': datasets001,
  '002-models': models002,
}

export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve(migrations),
}
