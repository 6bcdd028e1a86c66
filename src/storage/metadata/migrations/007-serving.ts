import { sql, type Kysely, type Migration } from 'kysely'

// Portable DDL only: the same migration runs on SQLite and PostgreSQL.
export const serving007: Migration = {
  async up(db: Kysely<unknown>) {
    // Every prediction served, written in batches by the server's prediction log; feedback fills in the label.
    await db.schema
      .createTable('predictions')
      .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
      .addColumn('pipeline', 'varchar(64)', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('served_at', 'varchar(32)', (c) => c.notNull())
      .addColumn('prediction', 'double precision')
      .addColumn('instance', 'text')
      .addColumn('instance_bytes', 'integer', (c) => c.notNull())
      .addColumn('request_key', 'varchar(256)')
      .addColumn('label', 'double precision')
      .addColumn('labelled_at', 'varchar(32)')
      .execute()
    await db.schema.createIndex('predictions_served').on('predictions').columns(['pipeline', 'served_at']).execute()

    // Predict requests and their failures per model version and minute: the error rate of each version.
    await db.schema
      .createTable('serving_counts')
      .addColumn('pipeline', 'varchar(64)', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('minute', 'varchar(16)', (c) => c.notNull())
      .addColumn('requests', 'bigint', (c) => c.notNull())
      .addColumn('errors', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('serving_counts_pk', ['pipeline', 'version', 'minute'])
      .execute()

    await db.schema
      .createTable('canaries')
      .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
      .addColumn('pipeline', 'varchar(64)', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('baseline_version', 'integer', (c) => c.notNull())
      .addColumn('percent', 'double precision', (c) => c.notNull())
      .addColumn('state', 'varchar(16)', (c) => c.notNull())
      .addColumn('forced', 'integer', (c) => c.notNull())
      .addColumn('actor', 'text', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('started_at', 'varchar(32)', (c) => c.notNull())
      .addColumn('bake_ms', 'bigint', (c) => c.notNull())
      .addColumn('bake_until', 'varchar(32)', (c) => c.notNull())
      .addColumn('extensions', 'integer', (c) => c.notNull())
      .addColumn('decided_at', 'varchar(32)')
      .addColumn('decided_by', 'text')
      .addColumn('decision', 'text')
      .addColumn('evidence', 'text')
      .execute()
    await db.schema.createIndex('canaries_pipeline').on('canaries').columns(['pipeline', 'started_at']).execute()
    // At most one active canary per pipeline, enforced by the database (both SQLite and PostgreSQL have partial indexes).
    await db.schema.createIndex('canaries_one_active').on('canaries').column('pipeline').unique().where(sql.ref('state'), '=', sql.lit('active')).execute()
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('canaries').execute()
    await db.schema.dropTable('serving_counts').execute()
    await db.schema.dropTable('predictions').execute()
  },
}
