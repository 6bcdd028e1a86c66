import { sql, type Kysely, type Migration } from 'kysely'

// Portable DDL only: the same migration runs on SQLite and PostgreSQL.
export const jobs004: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('jobs')
      .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('kind', 'varchar(64)', (c) => c.notNull())
      .addColumn('payload', 'text', (c) => c.notNull())
      .addColumn('state', 'varchar(16)', (c) => c.notNull())
      .addColumn('idempotency_key', 'varchar(255)')
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('max_attempts', 'integer', (c) => c.notNull())
      .addColumn('token', 'bigint', (c) => c.notNull())
      .addColumn('run_after', 'varchar(32)', (c) => c.notNull())
      .addColumn('lease_owner', 'varchar(128)')
      .addColumn('lease_expires_at', 'varchar(32)')
      .addColumn('cancel_reason', 'text')
      .addColumn('result', 'text')
      .addColumn('error', 'text')
      .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
      .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
      .addColumn('finished_at', 'varchar(32)')
      .execute()
    // What claim scans: due queued jobs and running jobs whose lease may have expired, oldest first.
    await db.schema.createIndex('jobs_claim').on('jobs').columns(['state', 'run_after', 'seq']).execute()
    await db.schema.createIndex('jobs_kind_seq').on('jobs').columns(['kind', 'seq']).execute()
    // Duplicate triggers coalesce: at most one unfinished job per (kind, key). A partial unique index, which
    // PostgreSQL and SQLite both have; finished jobs keep their key for the record without blocking a new job.
    await db.schema
      .createIndex('jobs_live_idempotency_key')
      .on('jobs')
      .columns(['kind', 'idempotency_key'])
      .unique()
      .where(sql<boolean>`state in ('queued', 'running')`)
      .execute()
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('jobs').execute()
  },
}
