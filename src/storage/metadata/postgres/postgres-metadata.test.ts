import { sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { isFreshetError } from '../../../core/errors.js'
import { postgresSkipReason, withPostgresDb } from '../../../../test/support/postgres.js'
import { migrationProvider } from '../migrations/index.js'
import { openPostgresMetadata } from './postgres-metadata.js'

const skip = await postgresSkipReason()

async function errorOf(promise: Promise<unknown>): Promise<{ code: string; message: string; hint?: string }> {
  return promise.then(
    (value) => expect.fail(`expected a rejection, got ${JSON.stringify(value)}`),
    (error: unknown) => {
      if (!isFreshetError(error)) throw error
      return {
        code: error.code,
        message: error.message,
        ...(error.hint === undefined ? {} : { hint: error.hint }),
      }
    },
  )
}

const everyMigration = async (): Promise<string[]> =>
  Object.keys(await migrationProvider.getMigrations()).sort()

describe('PostgreSQL metadata store: bad URLs', () => {
  it('rejects a URL that is not a PostgreSQL one, without printing its password', async () => {
    const error = await errorOf(openPostgresMetadata('mysql://admin:s3cret@db/freshet'))
    expect(error).toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('mysql:') as string,
    })
    expect(error.message).not.toContain('s3cret')
    expect((await errorOf(openPostgresMetadata('not a url'))).code).toBe('CONFIG_INVALID')
  })

  it('says which server it could not reach, without its password', async () => {
    // Port 1 on the loopback interface: nothing listens there, so the connection is refused at once.
    const error = await errorOf(openPostgresMetadata('postgres://freshet:s3cret@127.0.0.1:1/freshet'))
    expect(error).toMatchObject({
      code: 'BACKEND_UNAVAILABLE',
      message: expect.stringContaining('postgres://freshet:***@127.0.0.1:1/freshet') as string,
      hint: expect.stringContaining('PostgreSQL is running') as string,
    })
    expect(error.message).not.toContain('s3cret')
  })
})

describe.skipIf(skip !== undefined)('PostgreSQL metadata store', () => {
  it('applies every migration, and opening again changes nothing', async () => {
    await withPostgresDb(async (url) => {
      const db = await openPostgresMetadata(url)
      await db
        .insertInto('datasets')
        .values({ name: 'emails', created_at: new Date().toISOString() })
        .execute()
      const applied = async () =>
        (await sql<{ name: string }>`SELECT name FROM freshet_migrations ORDER BY name`.execute(db)).rows.map(
          (r) => r.name,
        )
      expect(await applied()).toEqual(await everyMigration())
      await db.destroy()

      const reopened = await openPostgresMetadata(url)
      expect(await reopened.selectFrom('datasets').select('name').execute()).toEqual([{ name: 'emails' }])
      const again = await sql<{ name: string }>`SELECT name FROM freshet_migrations ORDER BY name`.execute(
        reopened,
      )
      expect(again.rows.map((r) => r.name)).toEqual(await everyMigration())
      await reopened.destroy()
    })
  })

  it('connections that open a new database at the same moment apply each migration once', async () => {
    await withPostgresDb(async (url) => {
      const dbs = await Promise.all(
        Array.from({ length: 4 }, () => openPostgresMetadata(url, { maxConnections: 2 })),
      )
      try {
        const applied = await sql<{ name: string; n: number }>`
          SELECT name, count(*) AS n FROM freshet_migrations GROUP BY name ORDER BY name`.execute(dbs[0]!)
        expect(applied.rows).toEqual((await everyMigration()).map((name) => ({ name, n: 1 })))
        // Each of them works on the same tables.
        await Promise.all(
          dbs.map((db, i) =>
            db
              .insertInto('datasets')
              .values({ name: `d${i}`, created_at: 'x' })
              .execute(),
          ),
        )
        expect(await dbs[3]!.selectFrom('datasets').select('name').orderBy('name').execute()).toHaveLength(4)
      } finally {
        await Promise.all(dbs.map((db) => db.destroy()))
      }
    })
  })

  it('a migration that fails leaves no table of any migration of that start behind', async () => {
    await withPostgresDb(async (url) => {
      // Someone else's table where a later migration (005-runs) creates one.
      const { default: pg } = await import('pg')
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      await client.query('CREATE TABLE runs (id integer)')
      const error = await errorOf(openPostgresMetadata(url))
      expect(error).toMatchObject({
        code: 'INTERNAL',
        message: expect.stringContaining('005-runs') as string,
      })
      const tables = await client.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
      )
      // The migrator's own bookkeeping tables stay (created before the migrations start); nothing of 001-004 does.
      expect(tables.rows.map((r) => r.table_name)).toEqual([
        'freshet_migrations',
        'freshet_migrations_lock',
        'runs',
      ])
      expect((await client.query('SELECT name FROM freshet_migrations')).rows).toEqual([])

      // Once the obstacle is gone, the next start applies everything.
      await client.query('DROP TABLE runs')
      await client.end()
      const db = await openPostgresMetadata(url)
      expect(
        (await sql<{ name: string }>`SELECT name FROM freshet_migrations`.execute(db)).rows,
      ).toHaveLength((await everyMigration()).length)
      await db.destroy()
    })
  })

  it('reads integers back as numbers, as on SQLite: bigint columns, counts and sums', async () => {
    await withPostgresDb(async (url) => {
      const db = await openPostgresMetadata(url)
      try {
        const now = new Date().toISOString()
        await db.insertInto('datasets').values({ name: 'd', created_at: now }).execute()
        const batch = {
          dataset: 'd',
          source_name: 'x.csv',
          format: 'csv',
          compression: 'none',
          row_count: 3,
          state: 'accepted',
          schema_version: 1,
          original_key: 'k',
          data_key: 'k',
          min_event_time: null,
          max_event_time: null,
          created_at: now,
          parent_id: null,
        }
        // More than 2^32 bytes: a bigint column beyond what a 32-bit integer holds.
        await db
          .insertInto('batches')
          .values({ ...batch, id: 'b1', seq: 1, sha256: 'a', size_bytes: 6_000_000_000 })
          .execute()
        await db
          .insertInto('batches')
          .values({ ...batch, id: 'b2', seq: 2, sha256: 'b', size_bytes: 1 })
          .execute()
        expect(
          await db.selectFrom('batches').select(['size_bytes', 'row_count', 'seq']).orderBy('seq').execute(),
        ).toEqual([
          { size_bytes: 6_000_000_000, row_count: 3, seq: 1 },
          { size_bytes: 1, row_count: 3, seq: 2 },
        ])
        expect(
          await db
            .selectFrom('batches')
            .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.sum<number>('size_bytes').as('bytes')])
            .executeTakeFirst(),
        ).toEqual({ n: 2, bytes: 6_000_000_001 })
        // The same unique constraints as on SQLite.
        await expect(
          db
            .insertInto('batches')
            .values({ ...batch, id: 'b3', seq: 3, sha256: 'a', size_bytes: 1 })
            .execute(),
        ).rejects.toThrow(/batches_dataset_sha256/)
      } finally {
        await db.destroy()
      }
    })
  })

  it('says when the database does not exist, and how to create it', async () => {
    await withPostgresDb(async (url) => {
      const missing = new URL(url)
      missing.pathname = `${missing.pathname}_missing`
      const error = await errorOf(openPostgresMetadata(missing.toString()))
      expect(error).toMatchObject({
        code: 'BACKEND_UNAVAILABLE',
        message: expect.stringContaining('does not exist') as string,
        hint: expect.stringContaining('create the database') as string,
      })
    })
  })
})
