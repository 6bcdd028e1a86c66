import type { Kysely, Migration } from 'kysely'

// Portable DDL only: the same migration runs on SQLite and PostgreSQL.
export const runs005: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('runs')
      .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('pipeline', 'varchar(64)', (c) => c.notNull())
      .addColumn('state', 'varchar(16)', (c) => c.notNull())
      .addColumn('trigger', 'varchar(16)', (c) => c.notNull())
      .addColumn('actor', 'text', (c) => c.notNull())
      .addColumn('reason', 'text')
      .addColumn('trigger_details', 'text')
      .addColumn('job_id', 'varchar(40)', (c) => c.notNull())
      .addColumn('idempotency_key', 'varchar(255)')
      .addColumn('attempt', 'bigint', (c) => c.notNull())
      .addColumn('cancel_reason', 'text')
      .addColumn('error', 'text')
      .addColumn('outcome', 'text')
      .addColumn('lineage', 'text')
      .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
      .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
      .addColumn('started_at', 'varchar(32)')
      .addColumn('finished_at', 'varchar(32)')
      .execute()
    await db.schema.createIndex('runs_pipeline_seq').on('runs').columns(['pipeline', 'seq']).execute()
    await db.schema.createIndex('runs_state').on('runs').columns(['state']).execute()
    await db.schema.createIndex('runs_job').on('runs').columns(['job_id']).execute()

    await db.schema
      .createTable('run_steps')
      .addColumn('run_id', 'varchar(40)', (c) => c.notNull().references('runs.id'))
      .addColumn('name', 'varchar(32)', (c) => c.notNull())
      .addColumn('position', 'integer', (c) => c.notNull())
      .addColumn('status', 'varchar(16)', (c) => c.notNull())
      .addColumn('attempt', 'bigint', (c) => c.notNull())
      .addColumn('started_at', 'varchar(32)')
      .addColumn('finished_at', 'varchar(32)')
      .addColumn('details', 'text', (c) => c.notNull())
      .addColumn('error', 'text')
      .addPrimaryKeyConstraint('run_steps_pk', ['run_id', 'name'])
      .execute()

    // Everything a run reported, in order: state and step changes, training phases and progress, trainer logs.
    await db.schema
      .createTable('run_events')
      .addColumn('run_id', 'varchar(40)', (c) => c.notNull().references('runs.id'))
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('attempt', 'bigint', (c) => c.notNull())
      .addColumn('type', 'varchar(16)', (c) => c.notNull())
      .addColumn('at', 'varchar(32)', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('run_events_pk', ['run_id', 'seq'])
      .execute()
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('run_events').execute()
    await db.schema.dropTable('run_steps').execute()
    await db.schema.dropTable('runs').execute()
  },
}
