import type { Kysely, Migration } from 'kysely'

// Portable DDL only: the same migration runs on SQLite and PostgreSQL.
export const datasets001: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('datasets')
      .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
      .execute()

    await db.schema
      .createTable('schema_versions')
      .addColumn('dataset', 'varchar(64)', (c) => c.notNull().references('datasets.name'))
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('columns', 'text', (c) => c.notNull())
      .addColumn('source', 'varchar(16)', (c) => c.notNull())
      .addColumn('batch_id', 'varchar(64)')
      .addColumn('fingerprint', 'varchar(64)', (c) => c.notNull())
      .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
      .addPrimaryKeyConstraint('schema_versions_pk', ['dataset', 'version'])
      .execute()

    await db.schema
      .createTable('batches')
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('dataset', 'varchar(64)', (c) => c.notNull().references('datasets.name'))
      .addColumn('sha256', 'varchar(64)', (c) => c.notNull())
      .addColumn('source_name', 'text', (c) => c.notNull())
      .addColumn('format', 'varchar(16)', (c) => c.notNull())
      .addColumn('compression', 'varchar(16)', (c) => c.notNull())
      .addColumn('size_bytes', 'bigint', (c) => c.notNull())
      .addColumn('row_count', 'bigint', (c) => c.notNull())
      .addColumn('state', 'varchar(16)', (c) => c.notNull())
      .addColumn('schema_version', 'integer', (c) => c.notNull())
      .addColumn('original_key', 'text', (c) => c.notNull())
      .addColumn('data_key', 'text', (c) => c.notNull())
      .addColumn('min_event_time', 'varchar(32)')
      .addColumn('max_event_time', 'varchar(32)')
      .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
      .addUniqueConstraint('batches_dataset_sha256', ['dataset', 'sha256'])
      .addUniqueConstraint('batches_dataset_seq', ['dataset', 'seq'])
      .execute()
    await db.schema.createIndex('batches_dataset_state').on('batches').columns(['dataset', 'state']).execute()

    await db.schema
      .createTable('batch_statistics')
      .addColumn('batch_id', 'varchar(64)', (c) => c.primaryKey().references('batches.id'))
      .addColumn('columns', 'text', (c) => c.notNull())
      .addColumn('computed_at', 'varchar(32)', (c) => c.notNull())
      .execute()
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('batch_statistics').execute()
    await db.schema.dropTable('batches').execute()
    await db.schema.dropTable('schema_versions').execute()
    await db.schema.dropTable('datasets').execute()
  },
}
