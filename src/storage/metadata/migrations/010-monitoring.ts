import type { Kysely, Migration } from 'kysely'

// Portable DDL only: the same migration runs on SQLite and PostgreSQL.
export const monitoring010: Migration = {
  async up(db: Kysely<unknown>) {
    // Serving drift and online quality of each pipeline per monitoring window, recomputed until the window is over.
    await db.schema
      .createTable('monitor_windows')
      .addColumn('pipeline', 'varchar(64)', (c) => c.notNull())
      .addColumn('window_start', 'varchar(32)', (c) => c.notNull())
      .addColumn('window_end', 'varchar(32)', (c) => c.notNull())
      .addColumn('version', 'integer')
      .addColumn('rows', 'integer', (c) => c.notNull())
      .addColumn('sampled', 'integer', (c) => c.notNull())
      .addColumn('drift', 'double precision')
      .addColumn('prediction_drift', 'double precision')
      .addColumn('features', 'text', (c) => c.notNull())
      .addColumn('online', 'text', (c) => c.notNull())
      .addColumn('note', 'text')
      .addColumn('computed_at', 'varchar(32)', (c) => c.notNull())
      .addPrimaryKeyConstraint('monitor_windows_pk', ['pipeline', 'window_start'])
      .execute()

    // The state of each monitor rule: ok, pending (true, waiting for its `for`) or firing.
    await db.schema
      .createTable('monitor_rules')
      .addColumn('pipeline', 'varchar(64)', (c) => c.notNull())
      .addColumn('rule', 'varchar(200)', (c) => c.notNull())
      .addColumn('state', 'varchar(16)', (c) => c.notNull())
      .addColumn('since', 'varchar(32)')
      .addColumn('values', 'text', (c) => c.notNull())
      .addColumn('changed_at', 'varchar(32)', (c) => c.notNull())
      .addPrimaryKeyConstraint('monitor_rules_pk', ['pipeline', 'rule'])
      .execute()

    // Every transition (firing, resolved) with the values that caused it and what its actions did.
    await db.schema
      .createTable('monitor_events')
      .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
      .addColumn('pipeline', 'varchar(64)', (c) => c.notNull())
      .addColumn('rule', 'varchar(200)', (c) => c.notNull())
      .addColumn('transition', 'varchar(16)', (c) => c.notNull())
      .addColumn('condition', 'text', (c) => c.notNull())
      .addColumn('values', 'text', (c) => c.notNull())
      .addColumn('actions', 'text', (c) => c.notNull())
      .addColumn('at', 'varchar(32)', (c) => c.notNull())
      .execute()
    await db.schema
      .createIndex('monitor_events_pipeline')
      .on('monitor_events')
      .columns(['pipeline', 'at'])
      .execute()
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('monitor_events').execute()
    await db.schema.dropTable('monitor_rules').execute()
    await db.schema.dropTable('monitor_windows').execute()
  },
}
