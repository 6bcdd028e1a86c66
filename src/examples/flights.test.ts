import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { DuckDBInstance } from '@duckdb/node-api'
import type { DuckDBConnection } from '@duckdb/node-api'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isFreshetError } from '../core/errors.js'
import { prepareFlights } from './flights.js'
import { packageFile } from './package-data.js'
import type { PrepareReport } from './package-data.js'

const source = packageFile('vega-datasets', 'data/flights-3m.parquet')
const temp: string[] = []
let instance: DuckDBInstance
let db: DuckDBConnection
let outDir: string
let report: PrepareReport

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "freshet-flights-'quote-"))
  temp.push(dir)
  return dir
}

async function one(sql: string, params: string[]): Promise<Record<string, unknown>> {
  const rows = (await db.runAndReadAll(sql, params)).getRowObjectsJS()
  const first = rows[0]
  if (first === undefined) throw new Error(`no row from ${sql}`)
  return first
}

beforeAll(async () => {
  instance = await DuckDBInstance.create(':memory:', { threads: '2' })
  db = await instance.connect()
  outDir = await tempDir()
  report = await prepareFlights(outDir, { limitWeeks: 2 })
})

afterAll(async () => {
  db.closeSync()
  instance.closeSync()
  await Promise.all(temp.map((dir) => rm(dir, { recursive: true, force: true })))
})

describe('prepareFlights', () => {
  it('writes the first two ISO weeks, named by their Mondays, with every flight of those weeks', async () => {
    expect(report.files.map((file) => basename(file.path))).toEqual([
      'flights-2001-01-01.parquet',
      'flights-2001-01-08.parquet',
    ])
    expect((await readdir(outDir)).sort()).toEqual(report.files.map((file) => basename(file.path)))
    const expected = await one(
      `SELECT count(*)::INTEGER AS n FROM read_parquet($1) WHERE date >= '2001-01-01' AND date < '2001-01-15'`,
      [source],
    )
    expect(report.rows).toBe(expected.n)
    expect(report.rows).toBeGreaterThan(200_000)
    expect(report.rejected).toEqual({ count: 0, reasons: {} })

    for (const file of report.files) {
      const monday = /flights-(\d{4}-\d{2}-\d{2})/.exec(file.path)?.[1] ?? ''
      const stats = await one(
        `SELECT count(*)::INTEGER AS n,
                count(*) FILTER (WHERE date < $2::TIMESTAMP OR date >= $2::TIMESTAMP + INTERVAL 7 DAY)::INTEGER AS outside,
                count(*) FILTER (WHERE delayed IS DISTINCT FROM (delay > 15))::INTEGER AS wrong_label,
                count(*) FILTER (WHERE delayed)::INTEGER AS delayed
         FROM read_parquet($1)`,
        [file.path, monday],
      )
      expect(stats).toMatchObject({ n: file.rows, outside: 0, wrong_label: 0 })
      expect(stats.delayed).toBeGreaterThan(0)
    }
  })

  it('writes the documented columns and types, rows ordered by date', async () => {
    for (const file of report.files) {
      const described = (await db.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet($1)`, [file.path]))
        .getRowObjectsJS()
        .map((column) => [column.column_name, column.column_type])
      expect(described).toEqual([
        ['date', 'TIMESTAMP'],
        ['delay', 'BIGINT'],
        ['distance', 'BIGINT'],
        ['origin', 'VARCHAR'],
        ['destination', 'VARCHAR'],
        ['delayed', 'BOOLEAN'],
      ])
      const order = await one(
        `SELECT count(*) FILTER (WHERE date < previous)::INTEGER AS backwards
         FROM (SELECT date, lag(date) OVER (ORDER BY file_row_number) AS previous
               FROM read_parquet($1, file_row_number = true))`,
        [file.path],
      )
      expect(order.backwards).toBe(0)
    }
  })

  it('writes the same bytes on every run', async () => {
    const again = await tempDir()
    const second = await prepareFlights(again, { limitWeeks: 2 })
    expect(second.rows).toBe(report.rows)
    for (const file of report.files) {
      const [a, b] = await Promise.all([readFile(file.path), readFile(join(again, basename(file.path)))])
      expect(a.equals(b), basename(file.path)).toBe(true)
    }
  })

  it('rejects a limitWeeks that is not a positive whole number', async () => {
    for (const limitWeeks of [0, -1, 1.5]) {
      const error: unknown = await prepareFlights(outDir, { limitWeeks }).catch((caught: unknown) => caught)
      expect(isFreshetError(error, 'USAGE')).toBe(true)
    }
  })
})
