import type { Kysely, Migration } from 'kysely'

// Portable DDL only: the same migration runs on SQLite and PostgreSQL.
export const eventLog009: Migration = {
  async up(db: Kysely<unknown>) {
    // One row per topic: the offset counter (appends to a topic take this row in turn) and how far it was trimmed.
    await db.schema
      .createTable('event_log_topics')
      .addColumn('topic', 'varchar(255)', (c) => c.primaryKey())
      .addColumn('last_offset', 'bigint', (c) => c.notNull())
      .addColumn('trimmed_offset', 'bigint', (c) => c.notNull())
      .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
      .execute()
    await db.schema
      .createTable('event_log_events')
      .addColumn('topic', 'varchar(255)', (c) => c.notNull())
      .addColumn('event_offset', 'bigint', (c) => c.notNull())
      .addColumn('message_id', 'varchar(255)')
      .addColumn('event_key', 'text')
      .addColumn('payload', 'text', (c) => c.notNull())
      .addColumn('appended_at', 'varchar(32)', (c) => c.notNull())
      .addPrimaryKeyConstraint('event_log_events_pk', ['topic', 'event_offset'])
      .execute()
    // Producer dedup: one event per (topic, message id); events without an id never collide (NULLs are distinct).
    await db.schema
      .createIndex('event_log_events_message_id')
      .on('event_log_events')
      .columns(['topic', 'message_id'])
      .unique()
      .execute()
    // Retention trims by time.
    await db.schema
      .createIndex('event_log_events_appended_at')
      .on('event_log_events')
      .columns(['topic', 'appended_at'])
      .execute()
    await db.schema
      .createTable('event_log_consumers')
      .addColumn('topic', 'varchar(255)', (c) => c.notNull())
      .addColumn('name', 'varchar(255)', (c) => c.notNull())
      .addColumn('committed_offset', 'bigint', (c) => c.notNull())
      .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
      .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
      .addPrimaryKeyConstraint('event_log_consumers_pk', ['topic', 'name'])
      .execute()
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('event_log_consumers').execute()
    await db.schema.dropTable('event_log_events').execute()
    await db.schema.dropTable('event_log_topics').execute()
  },
}
