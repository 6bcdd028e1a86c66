import type { Kysely, Migration } from 'kysely'

// Portable DDL only: the same migration runs on SQLite and PostgreSQL.
export const models002: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('model_versions')
      .addColumn('pipeline', 'varchar(64)', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('status', 'varchar(16)', (c) => c.notNull())
      .addColumn('task', 'varchar(16)', (c) => c.notNull())
      .addColumn('trainer', 'varchar(64)', (c) => c.notNull())
      .addColumn('manifest_key', 'text', (c) => c.notNull())
      .addColumn('manifest_sha256', 'varchar(64)', (c) => c.notNull())
      .addColumn('weights_key', 'text', (c) => c.notNull())
      .addColumn('weights_sha256', 'varchar(64)', (c) => c.notNull())
      .addColumn('size_bytes', 'bigint', (c) => c.notNull())
      .addColumn('metrics', 'text', (c) => c.notNull())
      .addColumn('lineage', 'text', (c) => c.notNull())
      .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
      .addPrimaryKeyConstraint('model_versions_pk', ['pipeline', 'version'])
      .execute()

    await db.schema
      .createTable('model_aliases')
      .addColumn('pipeline', 'varchar(64)', (c) => c.notNull())
      .addColumn('alias', 'varchar(64)', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
      .addPrimaryKeyConstraint('model_aliases_pk', ['pipeline', 'alias'])
      .execute()

    await db.schema
      .createTable('alias_history')
      .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
      .addColumn('pipeline', 'varchar(64)', (c) => c.notNull())
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('alias', 'varchar(64)', (c) => c.notNull())
      .addColumn('from_version', 'integer')
      .addColumn('to_version', 'integer')
      .addColumn('actor', 'text', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('at', 'varchar(32)', (c) => c.notNull())
      .execute()
    await db.schema.createIndex('alias_history_order').on('alias_history').columns(['pipeline', 'seq']).unique().execute()
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('alias_history').execute()
    await db.schema.dropTable('model_aliases').execute()
    await db.schema.dropTable('model_versions').execute()
  },
}
