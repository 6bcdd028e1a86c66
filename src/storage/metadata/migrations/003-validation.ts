import type { Kysely, Migration } from 'kysely'

// Portable DDL only: the same migration runs on SQLite and PostgreSQL.
export const validation003: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('batches').addColumn('parent_id', 'varchar(64)').execute()
    await db.schema
      .createTable('batch_validation')
      .addColumn('batch_id', 'varchar(64)', (c) => c.primaryKey().references('batches.id'))
      .addColumn('anomalies', 'text', (c) => c.notNull())
      .addColumn('report', 'text', (c) => c.notNull())
      .addColumn('validated_at', 'varchar(32)', (c) => c.notNull())
      .execute()
    await db.schema
      .createTable('quarantine_actions')
      .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
      .addColumn('batch_id', 'varchar(64)', (c) => c.notNull().references('batches.id'))
      .addColumn('action', 'varchar(16)', (c) => c.notNull())
      .addColumn('actor', 'text', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('at', 'varchar(32)', (c) => c.notNull())
      .execute()
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('quarantine_actions').execute()
    await db.schema.dropTable('batch_validation').execute()
    await db.schema.alterTable('batches').dropColumn('parent_id').execute()
  },
}
