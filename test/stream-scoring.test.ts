import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Platform } from '../src/app/platform.js'
import { mulberry32 } from '../src/core/random.js'
import { ingestFile } from '../src/data/ingest.js'
import { Predictor } from '../src/serving/predictor.js'
import { scoreBatch, scoreSpecOf, scoringConsumer, startStreamScoring, type ScoreBatchResult, type ScoredEvent } from '../src/streaming/scoring.js'
import { publish } from '../src/streaming/topics.js'
import type { LogEvent } from '../src/storage/log/event-log.js'
import { trainAndRegister } from '../src/training/train.js'
import { fixtureConfig, learnableCsv } from './support/trained-model.js'
import { tempPlatform } from './support/workspace.js'

let platform: Platform
let dispose: () => Promise<void>

const config = {
  ...fixtureConfig,
  pipelines: { ...fixtureConfig.pipelines, p: { ...fixtureConfig.pipelines.p, score: { topic: 'events', output: 'events.scored', id: 'id', batch: 7 } } },
  topics: { events: { schema: { id: 'string', message: 'string', color: 'string', amount: 'number' }, key: 'id' } },
} as const

const random = mulberry32(7)
let next = 0
function events(n: number): { id: string; message: string; color: string; amount: number }[] {
  return Array.from({ length: n }, () => {
    const positive = random() < 0.5
    return { id: `e${next++}`, message: positive ? 'win a free prize' : 'meeting agenda notes', color: positive ? 'red' : 'green', amount: positive ? 100 : 10 }
  })
}

async function all(topic: string): Promise<LogEvent[]> {
  return platform.log.read(topic, { after: 0, limit: 10_000 })
}

/** Runs the job until its consumer has committed the topic's last offset, then stops it (a restart starts anew). */
async function runUntilCaughtUp(): Promise<ScoreBatchResult[]> {
  const last = (await platform.log.info('events'))!.lastOffset
  const batches: ScoreBatchResult[] = []
  const errors: unknown[] = []
  let caughtUp!: () => void
  const done = new Promise<void>((resolve) => (caughtUp = resolve))
  const job = startStreamScoring(platform, {
    pollMs: 20,
    onError: (_, error) => errors.push(error),
    onBatch: (_, result) => {
      batches.push(result)
      if (result.to >= last) caughtUp()
    },
  })
  expect(job.pipelines).toEqual(['p'])
  await done
  await job.stop()
  expect(errors).toEqual([])
  return batches
}

beforeAll(async () => {
  let dir: string
  ;({ platform, dir, dispose } = await tempPlatform(config))
  const file = path.join(dir, 'train.csv')
  await writeFile(file, learnableCsv(300))
  await ingestFile(platform, 'd', file)
  const outcome = await trainAndRegister(platform, 'p')
  expect(outcome.deployed).toBe(true)
}, 120_000)
afterAll(async () => dispose())

describe('stream scoring with the production model', () => {
  it('scores every event exactly once, with the model version, into the output topic and the prediction log; unscorable events are dead-lettered with the reason', async () => {
    const first = events(20)
    await publish(platform, 'events', first)
    // A producer writing straight to the log (bypassing the topic schema): events the model cannot score.
    await platform.log.append('events', [{ payload: { id: 'bad-1', message: 'win', amount: 5 } }, { payload: { id: 'bad-2', message: 'x', color: 'red', amount: 'lots' } }])
    await publish(platform, 'events', events(5))

    const batches = await runUntilCaughtUp()
    expect(batches.length).toBe(4) // 27 events in batches of 7

    const scored = (await all('events.scored')).map((e) => e.payload as ScoredEvent)
    expect(scored.map((s) => s.eventId)).toEqual([...first.map((e) => e.id), 'e20', 'e21', 'e22', 'e23', 'e24'])
    expect(new Set(scored.map((s) => s.modelVersion))).toEqual(new Set([1]))

    // The same transform and model as serving: identical numbers.
    const predictor = await Predictor.load(platform.registry, 'p', 1, platform.config.root)
    const served = predictor.predict(first).predictions
    expect(scored.slice(0, 20).map((s) => s.prediction)).toEqual(served)
    const meanPositive = scored.filter((s, i) => i < 20 && first[i]!.color === 'red').map((s) => s.prediction!)
    expect(Math.min(...meanPositive)).toBeGreaterThan(0.5)

    const letters = await all('events.scored.dead-letter')
    expect(letters.map((l) => (l.payload as { event: { id: string } }).event.id)).toEqual(['bad-1', 'bad-2'])
    const reasons = letters.map((l) => JSON.stringify((l.payload as { reasons: unknown }).reasons))
    expect(reasons[0]).toContain('color')
    expect(reasons[0]).toContain('missing')
    expect(reasons[1]).toContain('amount')

    const logged = await platform.db.selectFrom('predictions').selectAll().where('pipeline', '=', 'p').orderBy('id').execute()
    expect(logged.map((r) => r.id).sort()).toEqual(scored.map((s) => s.predictionId).sort())
    expect(logged.every((r) => r.version === 1)).toBe(true)
    expect(await platform.log.committed('events', scoringConsumer('p'))).toBe(27)
  }, 60_000)

  it('a restarted job continues after its committed offset: nothing scored twice, nothing skipped', async () => {
    await publish(platform, 'events', events(10))
    const batches = await runUntilCaughtUp()
    expect(batches[0]!.from).toBe(28)
    const ids = (await all('events.scored')).map((e) => (e.payload as ScoredEvent).eventId)
    expect(ids.length).toBe(35)
    expect(new Set(ids).size).toBe(35)
    expect(await platform.db.selectFrom('predictions').select('id').where('pipeline', '=', 'p').execute()).toHaveLength(35)
  }, 60_000)

  it('a crash after publishing outputs but before the commit is retried without duplicates (message ids from topic and offset)', async () => {
    await publish(platform, 'events', events(7))
    const spec = scoreSpecOf(platform, 'p')
    const predictor = await Predictor.load(platform.registry, 'p', 1, platform.config.root)
    // The metadata transaction fails as if the process died right before it committed.
    const killed = () => ({ execute: () => Promise.reject(new Error('killed before commit')) })
    const crashing: Platform = { ...platform, db: new Proxy(platform.db, { get: (db, name): unknown => (name === 'transaction' ? killed : Reflect.get(db, name)) }) }
    await expect(scoreBatch(crashing, 'p', spec, predictor)).rejects.toThrow('killed before commit')
    expect((await all('events.scored')).length).toBe(42)
    expect(await platform.log.committed('events', scoringConsumer('p'))).toBe(37)

    const retry = await scoreBatch(platform, 'p', spec, predictor)
    expect(retry).toMatchObject({ from: 38, to: 44, scored: 7, duplicates: 7 })
    const scored = (await all('events.scored')).map((e) => e.payload as ScoredEvent)
    expect(scored.length).toBe(42)
    const logged = await platform.db.selectFrom('predictions').select('id').where('pipeline', '=', 'p').execute()
    expect(logged.map((r) => r.id).sort()).toEqual(scored.map((s) => s.predictionId).sort())
    expect(await scoreBatch(platform, 'p', spec, predictor)).toBeUndefined()
  }, 60_000)
})
