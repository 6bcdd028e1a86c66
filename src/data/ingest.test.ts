import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { gzipSync } from 'node:zlib'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { tempPlatform, sha256File } from '../../test/support/workspace.js'
import type { Platform } from '../app/platform.js'
import { FreshetError } from '../core/errors.js'
import { packageFile } from '../examples/package-data.js'
import { batchStatistics, listBatches, schemaVersions } from './batches.js'
import { ingestFile } from './ingest.js'

const flights = packageFile('vega-datasets', 'data/flights-3m.parquet')

let platform: Platform
let dir: string
let dispose: () => Promise<void>

beforeEach(async () => {
  ;({ platform, dir, dispose } = await tempPlatform({
    datasets: {
      events: { eventTime: 'ts', label: 'clicked', maxFileSize: '64kb' },
      loose: {},
      other: {},
      big: {},
    },
  }))
  await mkdir(path.join(dir, 'in'))
})
afterEach(async () => dispose())

async function write(name: string, content: string | Uint8Array): Promise<string> {
  const file = path.join(dir, 'in', name)
  await writeFile(file, content)
  return file
}

/** Ingests a bad file and checks the promises: a clear error, nothing visible, the source untouched. */
async function rejects(dataset: string, file: string): Promise<FreshetError> {
  const before = await sha256File(file)
  const error = await ingestFile(platform, dataset, file).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(FreshetError)
  expect(await listBatches(platform.db, dataset)).toEqual([])
  expect(await platform.blobs.list(`datasets/${dataset}/`)).toEqual([])
  expect(await sha256File(file)).toBe(before)
  return error as FreshetError
}

const goodCsv = 'ts,clicked,country,price\n2024-01-01T10:00:00Z,1,DE,3.5\n2024-01-02T11:00:00Z,0,FR,\n2024-01-03T12:00:00Z,1,DE,7.25\n2024-01-04T13:00:00Z,0,"Fr, ance",1\n'

describe('ingest', () => {
  it('turns a CSV into one batch with schema, event-time range and statistics, keeping the original bytes', async () => {
    const file = await write('day1.csv', goodCsv)
    const result = await ingestFile(platform, 'events', file)
    expect(result.status).toBe('ingested')
    expect(result.batch).toMatchObject({ rows: 4, format: 'csv', state: 'accepted', schemaVersion: 1, minEventTime: '2024-01-01T10:00:00.000Z', maxEventTime: '2024-01-04T13:00:00.000Z' })
    expect(Buffer.from(await platform.blobs.get(result.batch.originalKey)).toString()).toBe(goodCsv)
    expect(result.batch.sha256).toBe(await sha256File(file))

    const [schema] = await schemaVersions(platform.db, 'events')
    expect(schema?.columns.map((c) => [c.name, c.type])).toEqual([['ts', 'timestamp'], ['clicked', 'integer'], ['country', 'string'], ['price', 'number']])
    const stats = await batchStatistics(platform.db, result.batch.id)
    const price = stats?.find((s) => s.name === 'price')
    expect(price).toMatchObject({ count: 3, missing: 1 })
    expect(price?.numeric?.mean).toBeCloseTo((3.5 + 7.25 + 1) / 3, 10)
    expect(price?.numeric?.min).toBe(1)
    expect(price?.numeric?.max).toBe(7.25)
    expect(price?.numeric?.histogram.counts.reduce((a, b) => a + b, 0)).toBe(3)
    expect(price?.numeric?.histogram.counts).toHaveLength(20)
    const country = stats?.find((s) => s.name === 'country')
    expect(country?.string?.top[0]).toEqual({ value: 'DE', count: 2 })
    expect(country?.string?.top.map((t) => t.value)).toContain('Fr, ance')
  })

  it('is a no-op for the same bytes, and versions the schema when a column appears', async () => {
    const file = await write('day1.csv', goodCsv)
    const first = await ingestFile(platform, 'events', file)
    const again = await ingestFile(platform, 'events', await write('copy.csv', goodCsv))
    expect(again.status).toBe('duplicate')
    expect(again.batch.id).toBe(first.batch.id)
    expect(await listBatches(platform.db, 'events')).toHaveLength(1)

    const wider = await ingestFile(platform, 'events', await write('day2.csv', 'ts,clicked,country,price,device\n2024-01-05T10:00:00Z,1,DE,2,ios\n'))
    expect(wider.schemaChange).toEqual({ version: 2, changes: ['new column device (string)'] })
    expect((await schemaVersions(platform.db, 'events')).map((v) => v.version)).toEqual([1, 2])
  })

  it('sniffs the delimiter, reads gzip, and reads JSON Lines and Parquet', async () => {
    const semicolon = await ingestFile(platform, 'loose', await write('semi.csv', 'a;b;c\n1;"x;y";3\n4;5;6\n'))
    expect(semicolon.batch.rows).toBe(2)
    const gz = await ingestFile(platform, 'other', await write('g.csv.gz', gzipSync('a,b\n1,2\n3,4\n5,6\n')))
    expect(gz.batch).toMatchObject({ rows: 3, compression: 'gzip', format: 'csv' })
    const jsonl = await ingestFile(platform, 'other', await write('j.jsonl', '{"a":1,"b":2}\n\n{"a":2,"b":3,"nested":{"k":[1,2]}}\n'))
    expect(jsonl.batch).toMatchObject({ rows: 2, format: 'jsonl' })
    const parquet = path.join(dir, 'in', 'f.parquet')
    await copyFile(flights, parquet)
    const pq = await ingestFile(platform, 'big', parquet)
    expect(pq.batch).toMatchObject({ rows: 3_000_000, format: 'parquet', state: 'accepted' })
    expect(jsonl.batch.state).toBe('accepted')
    expect(pq.batch.dataKey).toBe(pq.batch.originalKey)
  }, 120_000)

  it('keeps a hostile header as a plain column name', async () => {
    const result = await ingestFile(platform, 'loose', await write('inj.csv', 'a"; DROP TABLE batches; --,b\n1,2\n'))
    const [schema] = await schemaVersions(platform.db, 'loose')
    expect(schema?.columns.map((c) => c.name)).toEqual(['a"; DROP TABLE batches; --', 'b'])
    expect((await batchStatistics(platform.db, result.batch.id))?.[0]?.numeric?.mean).toBe(1)
    expect(await listBatches(platform.db, 'loose')).toHaveLength(1)
  })
})

describe('bad input', () => {
  it('an empty file', async () => {
    const error = await rejects('loose', await write('empty.csv', ''))
    expect(error.code).toBe('INPUT_EMPTY')
    expect(error.message).toContain('empty.csv is empty')
  })

  it('a binary file', async () => {
    const error = await rejects('loose', await write('image.csv', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 1, 2, 3, 0])))
    expect(error.code).toBe('INPUT_BINARY')
    expect(error.message).toContain('image.csv looks like a binary file')
  })

  it('a CSV with a ragged row names the line', async () => {
    const error = await rejects('loose', await write('ragged.csv', 'a,b,c\n1,2,3\n4,5,6\n7,8\n9,10,11\n'))
    expect(error.code).toBe('INPUT_MALFORMED')
    expect(error.line).toBe(4)
    expect(error.message).toContain('ragged.csv line 4: expected 3 fields like the header, got 2')
  })

  it('a short ragged CSV is not silently truncated', async () => {
    const error = await rejects('loose', await write('ragged3.csv', 'a,b\n1,2\n3,4,5\n'))
    expect(error.message).toContain('ragged3.csv line 3')
  })

  it('invalid JSON on line N', async () => {
    const error = await rejects('loose', await write('bad.jsonl', '{"a":1}\n{"a":2}\n{"a":3,\n{"a":4}\n'))
    expect(error.code).toBe('INPUT_MALFORMED')
    expect(error.line).toBe(3)
    expect(error.message).toMatch(/bad\.jsonl line 3: invalid JSON/)
  })

  it('a truncated Parquet file', async () => {
    const bytes = await readFile(flights)
    const error = await rejects('loose', await write('cut.parquet', bytes.subarray(0, 100_000)))
    expect(error.code).toBe('INPUT_MALFORMED')
    expect(error.message).toContain('cut.parquet')
    expect(error.hint).toContain('damaged or truncated')
  })

  it('a truncated gzip file', async () => {
    const zipped = gzipSync(Buffer.from('a,b\n' + '1,2\n'.repeat(20_000)))
    const error = await rejects('loose', await write('cut.csv.gz', zipped.subarray(0, zipped.length - 20)))
    expect(error.code).toBe('INPUT_MALFORMED')
    expect(error.message).toContain('cut.csv.gz')
  })

  it('a file over the size limit', async () => {
    const error = await rejects('events', await write('big.csv', 'ts,clicked\n' + '2024-01-01T00:00:00Z,1\n'.repeat(4000)))
    expect(error.code).toBe('INPUT_TOO_LARGE')
    expect(error.message).toMatch(/big\.csv is .* over the limit of 64 KiB/)
  })

  it('a dataset that does not exist', async () => {
    const file = await write('x.csv', goodCsv)
    await expect(ingestFile(platform, 'event', file)).rejects.toMatchObject({ code: 'DATASET_NOT_FOUND', message: expect.stringContaining('did you mean "events"') as unknown })
  })

})

describe('validation and quarantine', () => {
  async function quarantined(dataset: string, file: string) {
    const result = await ingestFile(platform, dataset, file)
    expect(result.batch.state).toBe('quarantined')
    expect(Buffer.from(await platform.blobs.get(result.batch.originalKey))).toEqual(await readFile(file))
    return result
  }

  it('quarantines a file without the event-time column, keeping its bytes', async () => {
    const result = await quarantined('events', await write('nots.csv', 'clicked,country\n1,DE\n'))
    expect(result.anomalies).toContainEqual(expect.objectContaining({ code: 'MISSING_COLUMN', column: 'ts', severity: 'blocking' }))
  })

  it('quarantines values that do not fit a column type, naming rows and values', async () => {
    await ingestFile(platform, 'loose', await write('a.csv', 'n,x\n1.5,a\n2.5,b\n'))
    const ints = await ingestFile(platform, 'loose', await write('b.csv', 'n,x\n3,c\n'))
    expect(ints.schemaChange).toBeUndefined()
    const result = await quarantined('loose', await write('c.csv', 'n,x\n4,d\nlots,e\n5,f\n'))
    const mismatch = result.anomalies?.find((a) => a.code === 'TYPE_MISMATCH')
    expect(mismatch).toMatchObject({ column: 'n', value: 1, examples: [2], values: ['lots'] })
    expect((await listBatches(platform.db, 'loose')).map((b) => b.state)).toEqual(['accepted', 'accepted', 'quarantined'])

    const badTime = await quarantined('events', await write('badts.csv', 'ts,clicked\n2024-01-01T00:00:00Z,1\nyesterday,0\n'))
    expect(badTime.anomalies?.find((a) => a.code === 'TYPE_MISMATCH')?.values).toEqual(['yesterday'])
  })
})
