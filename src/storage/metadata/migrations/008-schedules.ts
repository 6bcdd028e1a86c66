import type { Kysely, Migration } from 'kysely'

// Portable DDL only: the same migration runs on SQLite and PostgreSQL.
export const schedules008: Migration = {
  async up(db: Kysely<unknown>) {
    // One row per pipeline schedule (its cron pattern and time zone): the latest scheduled time handled, or the
    // time Freshet first saw the schedule, so a time missed while it was down is caught up even before a first run.
    await db.schema
      .createTable('schedule_cursors')
      .addColumn('pipeline', 'varchar(64)', (c) => c.notNull())
      .addColumn('schedule', 'varchar(255)', (c) => c.notNull())
      .addColumn('cursor_at', 'varchar(32)', (c) => c.notNull())
      .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
      .addPrimaryKeyConstraint('schedule_cursors_pk', ['pipeline', 'schedule'])
      .execute()
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('schedule_cursors').execute()
  },
}
