import type { Kysely, Migration } from 'kysely'

// Portable DDL only: the same migration runs on SQLite and PostgreSQL. Times of windows are epoch milliseconds.
export const streams011: Migration = {
  async up(db: Kysely<unknown>) {
    // One row per streamed dataset: how far event time has come.
    await db.schema
      .createTable('stream_state')
      .addColumn('dataset', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('topic', 'varchar(255)', (c) => c.notNull())
      .addColumn('max_event_ms', 'bigint')
      .addColumn('watermark_ms', 'bigint')
      .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
      .execute()
    // Events consumed and not yet in a sealed batch (raw), or kept until their window can no longer change
    // (aggregates), and too-late events until they are forwarded to `<topic>.too-late`.
    await db.schema
      .createTable('stream_events')
      .addColumn('dataset', 'varchar(64)', (c) => c.notNull())
      .addColumn('event_offset', 'bigint', (c) => c.notNull())
      .addColumn('window_start', 'bigint', (c) => c.notNull())
      .addColumn('kind', 'varchar(16)', (c) => c.notNull())
      .addColumn('payload', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('stream_events_pk', ['dataset', 'event_offset'])
      .execute()
    await db.schema
      .createIndex('stream_events_window')
      .on('stream_events')
      .columns(['dataset', 'window_start', 'event_offset'])
      .execute()
    // One row per window seen: counts by arrival, whether it closed, and its versions so far.
    await db.schema
      .createTable('stream_windows')
      .addColumn('dataset', 'varchar(64)', (c) => c.notNull())
      .addColumn('window_start', 'bigint', (c) => c.notNull())
      .addColumn('on_time', 'integer', (c) => c.notNull())
      .addColumn('late', 'integer', (c) => c.notNull())
      .addColumn('too_late', 'integer', (c) => c.notNull())
      .addColumn('closed', 'integer', (c) => c.notNull())
      .addColumn('versions', 'integer', (c) => c.notNull())
      .addColumn('through_offset', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
      .addPrimaryKeyConstraint('stream_windows_pk', ['dataset', 'window_start'])
      .execute()
    // Version n of a window holds its events with offsets in (from_offset, through_offset] (aggregates: all up to
    // through_offset); its batch id is derived from (topic, window, partition, version).
    await db.schema
      .createTable('stream_versions')
      .addColumn('dataset', 'varchar(64)', (c) => c.notNull())
      .addColumn('window_start', 'bigint', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('from_offset', 'bigint', (c) => c.notNull())
      .addColumn('through_offset', 'bigint', (c) => c.notNull())
      .addColumn('batch_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('state', 'varchar(16)', (c) => c.notNull())
      .addColumn('rows', 'integer')
      .addColumn('batch_state', 'varchar(16)')
      .addColumn('error', 'text')
      .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
      .addColumn('sealed_at', 'varchar(32)')
      .addPrimaryKeyConstraint('stream_versions_pk', ['dataset', 'window_start', 'version'])
      .execute()
    await db.schema.createIndex('stream_versions_state').on('stream_versions').columns(['dataset', 'state']).execute()
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('stream_versions').execute()
    await db.schema.dropTable('stream_windows').execute()
    await db.schema.dropTable('stream_events').execute()
    await db.schema.dropTable('stream_state').execute()
  },
}
