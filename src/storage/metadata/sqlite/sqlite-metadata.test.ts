import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { sql } from 'kysely'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { packageRoot } from '../../../core/package-root.js'
import { migrationProvider } from '../migrations/index.js'
import { openSqliteMetadata } from './sqlite-metadata.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'freshet-meta-'))
})
afterEach(async () => rm(dir, { recursive: true, force: true }))

describe('SQLite metadata store', () => {
  it('opens with WAL and synchronous=FULL, and migrating again changes nothing', async () => {
    const file = path.join(dir, 'state', 'freshet.db')
    const db = await openSqliteMetadata(file)
    const mode = await sql<{ journal_mode: string }>`PRAGMA journal_mode`.execute(db)
    expect(mode.rows[0]?.journal_mode).toBe('wal')
    const sync = await sql<{ synchronous: number }>`PRAGMA synchronous`.execute(db)
    expect(sync.rows[0]?.synchronous).toBe(2)
    await db.insertInto('datasets').values({ name: 'emails', created_at: new Date().toISOString() }).execute()
    await db.destroy()

    const reopened = await openSqliteMetadata(file)
    expect(await reopened.selectFrom('datasets').select('name').execute()).toEqual([{ name: 'emails' }])
    const applied = await sql<{ name: string }>`SELECT name FROM freshet_migrations`.execute(reopened)
    expect(applied.rows.map((r) => r.name)).toEqual(Object.keys(await migrationProvider.getMigrations()).sort())
    await reopened.destroy()
  })

  it('processes that open a new database at the same moment all start: the migration runs once, the others wait', async () => {
    const file = path.join(dir, 'shared.db')
    const module = pathToFileURL(path.join(packageRoot, 'dist', 'src', 'storage', 'metadata', 'sqlite', 'sqlite-metadata.js')).href
    const script = `const { openSqliteMetadata } = await import(${JSON.stringify(module)}); const db = await openSqliteMetadata(${JSON.stringify(file)}); await db.destroy(); console.log('opened')`
    const results = await Promise.all(
      Array.from({ length: 4 }, () =>
        new Promise<{ code: number | null; out: string }>((resolve) => {
          const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] })
          let out = ''
          child.stdout.on('data', (c: Buffer) => (out += c.toString()))
          child.stderr.on('data', (c: Buffer) => (out += c.toString()))
          child.on('close', (code) => resolve({ code, out }))
        }),
      ),
    )
    for (const r of results) expect(r, r.out).toMatchObject({ code: 0, out: 'opened\n' })
    const db = await openSqliteMetadata(file)
    const applied = await sql<{ name: string }>`SELECT name FROM freshet_migrations`.execute(db)
    expect(applied.rows.map((r) => r.name)).toEqual(Object.keys(await migrationProvider.getMigrations()).sort())
    await db.destroy()
  })

  it('rejects a second batch with the same bytes in a dataset', async () => {
    const db = await openSqliteMetadata(path.join(dir, 'f.db'))
    const now = new Date().toISOString()
    await db.insertInto('datasets').values({ name: 'd', created_at: now }).execute()
    const batch = { dataset: 'd', sha256: 'ab', source_name: 'x', format: 'csv', compression: 'none', size_bytes: 1, row_count: 1, state: 'accepted', schema_version: 1, original_key: 'k', data_key: 'k', min_event_time: null, max_event_time: null, created_at: now }
    await db.insertInto('batches').values({ ...batch, id: 'b1', seq: 1 }).execute()
    await expect(db.insertInto('batches').values({ ...batch, id: 'b2', seq: 2 }).execute()).rejects.toThrow(/UNIQUE/)
    await db.destroy()
  })
})
