import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Platform } from '../src/app/platform.js'
import type { FreshetConfigInput } from '../src/config/schema.js'
import { listBatches } from '../src/data/batches.js'
import { literal, openDuck, type Duck } from '../src/data/duckdb.js'
import { ingestFile, type IngestResult } from '../src/data/ingest.js'
import { prepareFlights } from '../src/examples/flights.js'
import { loadTrainingRows } from '../src/training/training-data.js'
import type { Anomaly, AnomalyCode, ColumnScores } from '../src/validation/anomaly.js'
import { showBatch } from '../src/validation/quarantine.js'
import { validationDefaults } from '../src/validation/thresholds.js'
import { sha256File, tempPlatform } from './support/workspace.js'

/*
 * Validation on real data: the US flights of January-June 2001 (vega-datasets' flights-3m), one batch per ISO week,
 * ~115k rows each. Ordinary weeks must pass at the default thresholds; a week broken in one of four ways (delays
 * x10, a flood of a new airport code, distance in kilometres, 30% of delays missing) must be quarantined with the
 * codes that name the problem, keep its bytes, and stay out of training.
 */

const config = {
  datasets: { flights: { eventTime: 'date', label: 'delayed' } },
  // A binary pipeline on the dataset, so that the label must be 0/1 (LABEL_INVALID is checked).
  pipelines: {
    delays: {
      dataset: 'flights',
      task: 'binary',
      features: { origin: { type: 'categorical' }, distance: { type: 'numeric' } },
      trainer: { type: 'linear', hashBits: 16 },
    },
  },
} satisfies FreshetConfigInput

/** Normal weeks ingested before each broken one: enough for the 4-batch drift reference, and fast. */
const historyWeeks = 8
/** Codes whose anomalies point at rows, so they must carry example row numbers. */
const codesWithRows: ReadonlySet<AnomalyCode> = new Set(['NEW_VALUES', 'OUT_OF_RANGE', 'MISSING_FRACTION'])

let dataDir: string
let weeks: string[]

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'freshet-flights-validation-'))
  const report = await prepareFlights(path.join(dataDir, 'weeks'))
  weeks = report.files.map((f) => f.path)
  expect(weeks).toHaveLength(26)
}, 60_000)
afterAll(async () => rm(dataDir, { recursive: true, force: true }))

const weekOf = (file: string) => path.basename(file).replace(/^flights-|\.parquet$/g, '')
const blocking = (anomalies: readonly Anomaly[] | undefined) =>
  (anomalies ?? []).filter((a) => a.severity === 'blocking')
const fixed = (x: number | undefined, digits = 4) => (x === undefined ? '-' : x.toFixed(digits))
const brief = (a: Anomaly) =>
  `${a.severity} ${a.code}(${a.column ?? '-'}) ${fixed(a.value)} > ${a.threshold ?? '-'}${a.examples.length > 0 ? ` rows ${a.examples.slice(0, 3).join(',')}…` : ''}`

const sha256Of = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

describe('26 normal weeks of flights, ingested in order at the default thresholds', () => {
  it('none is quarantined, none has a blocking anomaly, and every week records its drift scores', async () => {
    const { platform, dispose } = await tempPlatform(config)
    try {
      const lines: string[] = []
      const failures: string[] = []
      const missingScores: string[] = []
      const peaks = new Map<string, { value: number; week: string }>()
      const peak = (key: string, value: number | undefined, week: string) => {
        if (value !== undefined && value > (peaks.get(key)?.value ?? -1)) peaks.set(key, { value, week })
      }
      const started = performance.now()
      for (const [i, file] of weeks.entries()) {
        const week = weekOf(file)
        const t = performance.now()
        const result = await ingestFile(platform, 'flights', file)
        const seconds = (performance.now() - t) / 1000
        const { report } = await showBatch(platform, result.batch.id)
        const scores: Record<string, ColumnScores> = report?.scores ?? {}
        const drift = (c: string) => scores[c]?.drift?.value
        for (const c of ['delay', 'distance']) peak(`JS ${c}`, drift(c), week)
        for (const c of ['origin', 'destination', 'delayed']) peak(`L∞ ${c}`, drift(c), week)
        for (const c of ['origin', 'destination']) peak(`new ${c}`, scores[c]?.newValues, week)
        for (const c of ['delay', 'distance']) peak(`out-of-range ${c}`, scores[c]?.outOfRange, week)
        // The first week has nothing to drift from; every later one is compared with the weeks before it.
        if (i > 0) {
          for (const c of ['delay', 'distance', 'origin', 'destination', 'delayed'])
            if (drift(c) === undefined) missingScores.push(`${week} ${c}`)
        }
        const anomalies = result.anomalies ?? []
        lines.push(
          `${week} ${String(result.batch.rows).padStart(7)} rows ${result.batch.state.padEnd(11)} ${seconds.toFixed(2)} s` +
            `  JS delay ${fixed(drift('delay'))} (PSI ${fixed(scores.delay?.drift?.psi, 3)}) distance ${fixed(drift('distance'))}` +
            `  L∞ origin ${fixed(drift('origin'))} destination ${fixed(drift('destination'))} delayed ${fixed(drift('delayed'))}` +
            `  new origin ${fixed(scores.origin?.newValues)}` +
            `  anomalies: ${anomalies.length === 0 ? 'none' : anomalies.map(brief).join('; ')}`,
        )
        if (
          result.status !== 'ingested' ||
          result.batch.state !== 'accepted' ||
          blocking(anomalies).length > 0
        )
          failures.push(
            `${week}: ${result.status} ${result.batch.state}: ${blocking(anomalies).map(brief).join('; ')}`,
          )
      }
      const total = (performance.now() - started) / 1000
      const limits: Record<string, number> = {
        JS: validationDefaults.numericDriftThreshold,
        'L∞': validationDefaults.driftThreshold,
        new: validationDefaults.maxNewValues,
        'out-of-range': validationDefaults.maxOutOfRange,
      }
      console.log(
        [
          `26 normal weeks ingested in ${total.toFixed(1)} s:`,
          ...lines,
          'largest score over the 26 weeks (default threshold):',
          ...[...peaks].map(
            ([key, p]) =>
              `  ${key.padEnd(24)} ${fixed(p.value)} in ${p.week} (${limits[key.split(' ')[0] ?? ''] ?? '-'})`,
          ),
        ].join('\n'),
      )

      expect(failures).toEqual([])
      expect(missingScores).toEqual([])
      const states = (await listBatches(platform.db, 'flights')).map((b) => b.state)
      expect(states).toEqual(weeks.map(() => 'accepted'))
    } finally {
      await dispose()
    }
  }, 240_000)
})

interface BadWeek {
  readonly name: string
  /** SQL replacing one column of the normal week; `file_row_number` is the 0-based row. */
  readonly column: 'delay' | 'distance' | 'origin'
  readonly sql: string
  /** Codes that must all be found on `column`, all blocking. */
  readonly required: AnomalyCode[]
  /** Codes of which at least one must be found on `column`. */
  readonly oneOf?: AnomalyCode[]
  /** A SQL condition true at every example row of the anomalies with rows. */
  readonly atExampleRows?: string
  /** The measured value expected for codes that measure the edit itself (a fraction of rows). */
  readonly expectedValue?: Partial<Record<AnomalyCode, number>>
}

const thirtyPercent = 'file_row_number % 10 < 3'
const badWeeks: BadWeek[] = [
  {
    name: 'delays multiplied by 10',
    column: 'delay',
    sql: 'delay * 10',
    required: [],
    oneOf: ['DRIFT', 'OUT_OF_RANGE'],
  },
  {
    name: 'flooded with a new airport code (30% of origin = ZZZ)',
    column: 'origin',
    sql: `CASE WHEN ${thirtyPercent} THEN 'ZZZ' ELSE origin END`,
    required: ['NEW_VALUES', 'DRIFT'],
    atExampleRows: `origin = 'ZZZ'`,
    expectedValue: { NEW_VALUES: 0.3, DRIFT: 0.3 },
  },
  {
    name: 'distance in kilometres instead of miles',
    column: 'distance',
    sql: 'CAST(round(distance * 1.609344) AS BIGINT)',
    required: ['DRIFT'],
  },
  {
    name: '30% nulls in delay',
    column: 'delay',
    sql: `CASE WHEN ${thirtyPercent} THEN NULL ELSE delay END`,
    required: ['MISSING_FRACTION'],
    atExampleRows: 'delay IS NULL',
    expectedValue: { MISSING_FRACTION: 0.3 },
  },
]

describe(`broken weeks on top of ${historyWeeks} normal weeks are quarantined with the right codes`, () => {
  let platform: Platform
  let dispose: () => Promise<void>
  let duck: Duck
  /** The normal week every broken one is made from: the one after the history. */
  let base: string
  const ingested = new Map<string, { file: string; result: IngestResult }>()

  beforeAll(async () => {
    ;({ platform, dispose } = await tempPlatform(config))
    duck = await openDuck()
    for (const file of weeks.slice(0, historyWeeks)) {
      const result = await ingestFile(platform, 'flights', file)
      expect(result.batch.state, weekOf(file)).toBe('accepted')
    }
    base = weeks[historyWeeks] as string
    const columns = ['date', 'delay', 'distance', 'origin', 'destination', 'delayed']
    await mkdir(path.join(dataDir, 'bad'), { recursive: true })
    for (const [i, bad] of badWeeks.entries()) {
      const file = path.join(dataDir, 'bad', `bad-${i + 1}.parquet`)
      const selects = columns.map((c) => (c === bad.column ? `${bad.sql} AS ${c}` : c)).join(', ')
      await duck.run(
        `COPY (SELECT ${selects} FROM read_parquet(${literal(base)}, file_row_number = true) ORDER BY file_row_number)
         TO ${literal(file)} (FORMAT parquet)`,
      )
      // Each on top of the same normal history: a quarantined batch never becomes part of the reference.
      ingested.set(bad.name, { file, result: await ingestFile(platform, 'flights', file) })
    }
  }, 120_000)
  afterAll(async () => {
    duck.close()
    await dispose()
  })

  /** True at every 1-based `rows` of `file` when `condition` holds there, read independently of the validator. */
  async function holdsAt(file: string, rows: readonly number[], condition: string): Promise<boolean> {
    const [found] = await duck.rows(
      `SELECT CAST(count(*) AS DOUBLE) AS n, CAST(count_if(${condition}) AS DOUBLE) AS ok
       FROM read_parquet(${literal(file)}, file_row_number = true)
       WHERE file_row_number + 1 IN (${rows.join(', ')})`,
    )
    return Number(found?.n) === rows.length && Number(found?.ok) === rows.length
  }

  it.each(badWeeks)('$name', async (bad) => {
    const entry = ingested.get(bad.name)
    if (entry === undefined) throw new Error(`${bad.name} was not ingested`)
    const { file, result } = entry
    console.log(
      `${bad.name} (from ${weekOf(base)}): ${result.batch.state}\n  ${(result.anomalies ?? []).map(brief).join('\n  ')}`,
    )

    expect(result.status).toBe('ingested')
    expect(result.batch.state).toBe('quarantined')
    const found = blocking(result.anomalies)
    // The right codes: every blocking finding names the edited column, with a code that describes the edit.
    const allowed = new Set([...bad.required, ...(bad.oneOf ?? [])])
    const stray = found.filter((a) => a.column !== bad.column || !allowed.has(a.code))
    expect(stray.map(brief)).toEqual([])
    for (const code of bad.required) expect(found.map((a) => a.code)).toContain(code)
    if (bad.oneOf !== undefined) expect(found.some((a) => bad.oneOf?.includes(a.code) === true)).toBe(true)

    for (const a of found) {
      expect(a.severity).toBe('blocking')
      expect(a.threshold, a.code).not.toBeNull()
      expect(a.value, a.code).toBeGreaterThan(a.threshold ?? Number.POSITIVE_INFINITY)
      const expected = bad.expectedValue?.[a.code]
      if (expected !== undefined) expect(a.value, a.code).toBeCloseTo(expected, 3)
      if (codesWithRows.has(a.code)) {
        expect(a.examples.length, a.code).toBeGreaterThan(0)
        expect(a.examples.length, a.code).toBeLessThanOrEqual(10)
        expect(a.examples, a.code).toEqual([...a.examples].sort((x, y) => x - y))
        expect(
          a.examples.every((r) => Number.isInteger(r) && r >= 1 && r <= result.batch.rows),
          a.code,
        ).toBe(true)
        if (bad.atExampleRows !== undefined)
          expect(await holdsAt(file, a.examples, bad.atExampleRows), a.code).toBe(true)
      }
    }

    // Lose nothing: the original bytes are kept, byte for byte.
    const kept = await platform.blobs.get(result.batch.originalKey)
    expect(sha256Of(kept)).toBe(await sha256File(file))
    expect(result.batch.sha256).toBe(await sha256File(file))
  })

  it('quarantined weeks are never visible to training, and the unedited week is accepted after them', async () => {
    const quarantinedIds = [...ingested.values()].map((e) => e.result.batch.id)
    expect(new Set(quarantinedIds).size).toBe(badWeeks.length)

    // The week the broken ones were made from passes: what they were caught for is the edit, not the week.
    const control = await ingestFile(platform, 'flights', base)
    expect(control.batch.state).toBe('accepted')
    expect(blocking(control.anomalies)).toEqual([])

    const batches = await listBatches(platform.db, 'flights')
    expect(batches.map((b) => [b.sourceName, b.state])).toEqual([
      ...weeks.slice(0, historyWeeks).map((w) => [path.basename(w), 'accepted']),
      ...badWeeks.map((_, i) => [`bad-${i + 1}.parquet`, 'quarantined']),
      [path.basename(base), 'accepted'],
    ])

    const pipeline = platform.config.config.pipelines?.delays
    const dataset = platform.config.config.datasets?.flights
    if (pipeline === undefined || dataset === undefined)
      throw new Error('the test configuration lost its pipeline')
    const training = await loadTrainingRows(platform, 'delays', pipeline, dataset)
    const accepted = batches.filter((b) => b.state === 'accepted')
    expect(training.batches.map((b) => b.id)).toEqual(accepted.map((b) => b.id))
    expect(training.batches.some((b) => quarantinedIds.includes(b.id))).toBe(false)
    expect(training.labels.length + training.unlabelled).toBe(accepted.reduce((n, b) => n + b.rows, 0))
  }, 60_000)
})
