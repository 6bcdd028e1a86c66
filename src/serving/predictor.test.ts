import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  clearlyNegative,
  clearlyPositive,
  registerCopy,
  trainedWorkspace,
  type TrainedWorkspace,
} from '../../test/support/trained-model.js'
import { FreshetError } from '../core/errors.js'
import { ModelCache } from './model-cache.js'
import { predictionId, Predictor } from './predictor.js'

let ws: TrainedWorkspace
let predictor: Predictor

beforeAll(async () => {
  ws = await trainedWorkspace()
  predictor = await Predictor.load(
    ws.platform.registry,
    'p',
    ws.trained.model.version,
    ws.platform.config.root,
  )
})
// Guarded: when beforeAll fails, its own error is the one to report.
afterAll(async () => {
  await ws?.dispose()
})

/** A UUID with the version 7 layout: time first, so ids sort by time. */
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

/** The INVALID_INSTANCE error `predict` throws for `instances`, or a failure when it throws nothing. */
function invalid(instances: unknown): FreshetError {
  try {
    predictor.predict(instances)
  } catch (error) {
    expect(error).toBeInstanceOf(FreshetError)
    expect((error as FreshetError).code).toBe('INVALID_INSTANCE')
    return error as FreshetError
  }
  throw new Error(`predict accepted ${JSON.stringify(instances)}`)
}

describe('Predictor', () => {
  it('scores a trained model: probabilities that rank a clearly positive instance above a clearly negative one', () => {
    expect(ws.trained).toMatchObject({ deployed: true, model: { version: 1 } })
    const result = predictor.predict([clearlyPositive, clearlyNegative])
    expect(result.modelVersion).toBe(1)
    expect(result.predictions).toHaveLength(2)
    const [positive, negative] = result.predictions as [number, number]
    for (const p of [positive, negative]) {
      expect(p).toBeGreaterThan(0)
      expect(p).toBeLessThan(1)
    }
    expect(positive).toBeGreaterThan(0.5)
    expect(negative).toBeLessThan(0.5)
  })

  it('gives identical numbers for the same instances, and a fresh unique UUID per prediction', () => {
    const instances = [clearlyPositive, clearlyNegative, { message: null, color: 'purple', amount: null }]
    const first = predictor.predict(instances)
    const second = predictor.predict(structuredClone(instances))
    expect(second.predictions).toEqual(first.predictions)
    const ids = [...first.predictionIds, ...second.predictionIds]
    expect(ids).toHaveLength(6)
    for (const id of ids) expect(id).toMatch(uuid)
    expect(new Set(ids).size).toBe(6)
  })

  it('makes prediction ids that sort by the time they were made', () => {
    const earlier = predictionId(Date.parse('2024-01-01T00:00:00Z'))
    const later = predictionId(Date.parse('2024-01-01T00:00:00.001Z'))
    expect(earlier).toMatch(uuid)
    expect(earlier.slice(0, 13)).toBe('018cc251-f400')
    expect(earlier < later).toBe(true)
  })

  it('scores exactly as a second load of the same version does', async () => {
    const again = await Predictor.load(ws.platform.registry, 'p', 1, ws.platform.config.root)
    expect(again.predict([clearlyPositive, clearlyNegative]).predictions).toEqual(
      predictor.predict([clearlyPositive, clearlyNegative]).predictions,
    )
  })

  it('names the instance and field of a missing or ill-typed feature', () => {
    const { amount: _amount, ...noAmount } = clearlyPositive
    expect(invalid([clearlyNegative, noAmount]).message).toMatch(/^instances\[1\]\.amount: missing/)
    expect(invalid([{ ...clearlyPositive, amount: '3.5' }]).message).toMatch(
      /^instances\[0\]\.amount: expected a number, got "3\.5"/,
    )
    expect(invalid([clearlyPositive, clearlyPositive, { ...clearlyPositive, message: 42 }]).message).toMatch(
      /^instances\[2\]\.message: expected a string, got 42/,
    )
    expect(invalid([clearlyPositive, { ...clearlyPositive, color: { nested: true } }]).message).toMatch(
      /^instances\[1\]\.color: expected a string, number or boolean, got an object/,
    )
  })

  it('refuses instances that are not objects, and an empty or missing list', () => {
    expect(invalid([clearlyPositive, 'text']).message).toMatch(/^instances\[1\]: expected an object/)
    expect(invalid([[1, 2]]).message).toMatch(/^instances\[0\]: expected an object/)
    expect(invalid([null]).message).toMatch(/^instances\[0\]: expected an object/)
    expect(invalid([]).message).toMatch(/^instances: expected a non-empty array.*empty array/)
    expect(invalid({ message: 'x' }).message).toMatch(/^instances: expected a non-empty array/)
    expect(invalid(undefined).message).toMatch(/^instances: expected a non-empty array/)
  })

  it('refuses to load a version that does not exist', async () => {
    await expect(
      Predictor.load(ws.platform.registry, 'p', 99, ws.platform.config.root),
    ).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' })
  })
})

describe('ModelCache', () => {
  it('says MODEL_NOT_FOUND for a pipeline without a production model', async () => {
    const cache = new ModelCache(ws.platform.registry, ws.platform.config.root)
    await expect(cache.production('untrained')).rejects.toMatchObject({
      code: 'MODEL_NOT_FOUND',
      message: expect.stringContaining('untrained') as unknown,
    })
  })

  it('serves the new production version within about a second of the move, while a held predictor keeps working', async () => {
    const errors: unknown[] = []
    const cache = new ModelCache(ws.platform.registry, ws.platform.config.root, 1000, (_pipeline, error) =>
      errors.push(error),
    )
    const held = await cache.production('p')
    expect(held.version).toBe(1)
    const expected = held.predict([clearlyPositive, clearlyNegative]).predictions

    const v2 = await registerCopy(ws.platform, 1)
    expect(v2).toBe(2)
    // Registering alone changes nothing served.
    expect((await cache.production('p')).version).toBe(1)
    await ws.platform.registry.moveAlias({
      pipeline: 'p',
      alias: 'production',
      version: v2,
      expected: 1,
      actor: 'test',
      reason: 'hot swap',
    })

    const movedAt = Date.now()
    let served = held
    while (served.version !== v2 && Date.now() - movedAt < 3000) {
      served = await cache.production('p')
      if (served.version !== v2) await new Promise((resolve) => setTimeout(resolve, 20))
    }
    expect(served.version).toBe(v2)
    expect(Date.now() - movedAt).toBeLessThan(2500)
    expect(served.predict([clearlyPositive]).modelVersion).toBe(v2)

    // The request that took the old predictor before the swap still completes, on the old version.
    const late = held.predict([clearlyPositive, clearlyNegative])
    expect(late.modelVersion).toBe(1)
    expect(late.predictions).toEqual(expected)
    expect(errors).toEqual([])

    await ws.platform.registry.moveAlias({
      pipeline: 'p',
      alias: 'production',
      version: 1,
      expected: v2,
      actor: 'test',
      reason: 'restore for other tests',
    })
  })

  it('keeps serving the loaded model when the new production version fails its integrity check', async () => {
    const errors: unknown[] = []
    const cache = new ModelCache(ws.platform.registry, ws.platform.config.root, 1000, (_pipeline, error) =>
      errors.push(error),
    )
    expect((await cache.production('p')).version).toBe(1)
    // A version whose weights blob differs from what was recorded: its own key, so version 1 is untouched.
    const { manifest, weights } = await ws.platform.registry.load('p', 1)
    const extended = new Uint8Array(weights.length + 8)
    extended.set(weights)
    const bad = await ws.platform.registry.register({
      pipeline: 'p',
      task: 'binary',
      trainer: 'linear',
      manifest,
      weights: extended,
      metrics: {},
      lineage: {},
    })
    const stored = await ws.platform.blobs.get(bad.weightsKey)
    stored[stored.length - 1] = 0xff
    await ws.platform.blobs.put(bad.weightsKey, stored)
    const current = await ws.platform.registry.alias('p', 'production')
    await ws.platform.registry.moveAlias({
      pipeline: 'p',
      alias: 'production',
      version: bad.version,
      expected: current ?? null,
      actor: 'test',
      reason: 'deploy a damaged model',
    })

    const movedAt = Date.now()
    while (errors.length === 0 && Date.now() - movedAt < 3000) {
      expect((await cache.production('p')).version).toBe(1)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    expect(errors).toEqual([expect.objectContaining({ code: 'INTEGRITY_MISMATCH' })])
    expect((await cache.production('p')).predict([clearlyPositive]).modelVersion).toBe(1)
    // A fresh cache has nothing to fall back on: it refuses rather than serving the damaged bytes.
    await expect(
      new ModelCache(ws.platform.registry, ws.platform.config.root).production('p'),
    ).rejects.toMatchObject({ code: 'INTEGRITY_MISMATCH' })
    await ws.platform.registry.moveAlias({
      pipeline: 'p',
      alias: 'production',
      version: 1,
      expected: bad.version,
      actor: 'test',
      reason: 'roll back',
    })
  })
})
