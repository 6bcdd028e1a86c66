import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  clearlyNegative,
  clearlyPositive,
  registerCopy,
  trainedWorkspace,
  type TrainedWorkspace,
} from '../../test/support/trained-model.js'
import { buildServer } from './app.js'
import { startServer } from './listen.js'
import { maxInstances } from './predict-routes.js'

let ws: TrainedWorkspace
let app: FastifyInstance
const token = 'a-test-token-that-is-long-enough'

beforeAll(async () => {
  ws = await trainedWorkspace()
  app = await buildServer(ws.platform, { token })
})
// Guarded: when beforeAll fails, its own error is the one to report.
afterAll(async () => {
  await app?.close()
  await ws?.dispose()
})

interface PredictBody {
  predictions: number[]
  modelVersion: number
  predictionIds: string[]
}

const predict = (payload: unknown, pipeline = 'p', server = app): Promise<LightMyRequestResponse> =>
  server.inject({
    method: 'POST',
    url: `/v1/models/${pipeline}:predict`,
    payload: payload as Record<string, unknown>,
  })

function expectError(response: LightMyRequestResponse, status: number, code: string, message?: RegExp): void {
  expect(response.statusCode, response.body).toBe(status)
  const body = response.json<{ code: string; message: string }>()
  expect(body.code).toBe(code)
  if (message !== undefined) expect(body.message).toMatch(message)
}

describe('POST /v1/models/{pipeline}:predict', () => {
  it('scores instances with the production model: predictions, modelVersion and one id per instance', async () => {
    const response = await predict({ instances: [clearlyPositive, clearlyNegative, clearlyNegative] })
    expect(response.statusCode, response.body).toBe(200)
    expect(response.headers['content-type']).toContain('application/json')
    const body = response.json<PredictBody>()
    expect(Object.keys(body).sort()).toEqual(['modelVersion', 'predictionIds', 'predictions'])
    expect(body.modelVersion).toBe(1)
    expect(body.predictions).toHaveLength(3)
    expect(body.predictionIds).toHaveLength(3)
    expect(new Set(body.predictionIds).size).toBe(3)
    const [positive, negative, again] = body.predictions as [number, number, number]
    expect(positive).toBeGreaterThan(0.5)
    expect(positive).toBeLessThan(1)
    expect(negative).toBeLessThan(0.5)
    expect(negative).toBeGreaterThan(0)
    expect(again).toBe(negative)
  })

  it('is open without a token, while every other write is refused without one', async () => {
    // Scoring changes nothing, so it needs no token, and a wrong one does not get in its way.
    expect((await predict({ instances: [clearlyPositive] })).statusCode).toBe(200)
    const wrongToken = await app.inject({
      method: 'POST',
      url: '/v1/models/p:predict',
      headers: { authorization: 'Bearer wrong' },
      payload: { instances: [clearlyPositive] },
    })
    expect(wrongToken.statusCode).toBe(200)

    const writes = [
      { method: 'PUT', url: '/v1/models/p:predict' },
      { method: 'DELETE', url: '/v1/models/p:predict' },
      { method: 'PATCH', url: '/v1/models/p:predict' },
      { method: 'POST', url: '/v1/models/p/aliases/production' },
      { method: 'PUT', url: '/v1/models/p/aliases/production' },
      { method: 'DELETE', url: '/v1/models/p' },
      { method: 'POST', url: '/api/v1/datasets' },
      { method: 'POST', url: '/api/v1/datasets/d/batches' },
    ] as const
    for (const { method, url } of writes) {
      const response = await app.inject({
        method,
        url,
        payload: { instances: [clearlyPositive], version: 1 },
      })
      expect(response.statusCode, `${method} ${url}`).toBe(401)
      expect(response.headers['www-authenticate']).toBe('Bearer')
    }
    // Nothing moved.
    expect(await ws.platform.registry.aliases('p')).toEqual({ production: 1 })
  })

  it('answers 400 INVALID_INSTANCE naming the instance and field of a missing or ill-typed feature', async () => {
    const { color: _color, ...noColor } = clearlyPositive
    expectError(
      await predict({ instances: [clearlyPositive, noColor] }),
      400,
      'INVALID_INSTANCE',
      /^instances\[1\]\.color: missing/,
    )
    expectError(
      await predict({
        instances: [clearlyNegative, clearlyNegative, { ...clearlyNegative, amount: 'lots' }],
      }),
      400,
      'INVALID_INSTANCE',
      /^instances\[2\]\.amount: expected a number, got "lots"/,
    )
    expectError(
      await predict({ instances: [{ ...clearlyNegative, message: ['a', 'list'] }] }),
      400,
      'INVALID_INSTANCE',
      /^instances\[0\]\.message: expected a string, got an array/,
    )
    expectError(
      await predict({ instances: [clearlyNegative, 7] }),
      400,
      'INVALID_INSTANCE',
      /^instances\[1\]: expected an object/,
    )
  })

  it('answers 400 when the body has no instances array', async () => {
    for (const payload of [
      {},
      { instance: [clearlyPositive] },
      { instances: clearlyPositive },
      { instances: 'x' },
      { instances: [] },
      [clearlyPositive],
    ]) {
      expectError(await predict(payload), 400, 'INVALID_INSTANCE', /instances/)
    }
    expect(
      (
        await app.inject({
          method: 'POST',
          url: '/v1/models/p:predict',
          headers: { 'content-type': 'application/json' },
          payload: 'null',
        })
      ).statusCode,
    ).toBe(400)
    expect(
      (
        await app.inject({
          method: 'POST',
          url: '/v1/models/p:predict',
          headers: { 'content-type': 'application/json' },
          payload: '{"instances": [',
        })
      ).statusCode,
    ).toBe(400)
  })

  it('answers 413 for more than 1000 instances, and scores exactly 1000', async () => {
    const limit = Array.from({ length: maxInstances }, (_, i) => ({ ...clearlyNegative, amount: i % 50 }))
    const ok = await predict({ instances: limit })
    expect(ok.statusCode).toBe(200)
    expect(ok.json<PredictBody>().predictions).toHaveLength(1000)
    expectError(
      await predict({ instances: [...limit, clearlyPositive] }),
      413,
      'INPUT_TOO_LARGE',
      /at most 1000 per request, got 1001/,
    )
  })

  it('answers 413 INPUT_TOO_LARGE for a body over the server body limit', async () => {
    const small = await buildServer(ws.platform, { token, bodyLimit: 1024 })
    try {
      const fits = await predict({ instances: [clearlyPositive] }, 'p', small)
      expect(fits.statusCode).toBe(200)
      const instances = Array.from({ length: 20 }, () => clearlyPositive)
      expect(JSON.stringify({ instances }).length).toBeGreaterThan(1024)
      expectError(await predict({ instances }, 'p', small), 413, 'INPUT_TOO_LARGE')
    } finally {
      await small.close()
    }
  })

  it('answers 404 for an unknown pipeline or one without a production model, 400 for a bad method or name', async () => {
    expectError(
      await predict({ instances: [clearlyPositive] }, 'nope'),
      404,
      'PIPELINE_NOT_FOUND',
      /pipeline "nope" does not exist/,
    )
    expectError(
      await predict({ instances: [clearlyPositive] }, 'pp'),
      404,
      'PIPELINE_NOT_FOUND',
      /did you mean "p"\?/,
    )
    expectError(
      await predict({ instances: [{ amount: 3 }] }, 'untrained'),
      404,
      'MODEL_NOT_FOUND',
      /pipeline untrained has no production model/,
    )
    expectError(
      await app.inject({
        method: 'POST',
        url: '/v1/models/p:explode',
        payload: { instances: [clearlyPositive] },
      }),
      400,
      'USAGE',
      /no such model method "explode"/,
    )
    expectError(
      await app.inject({ method: 'POST', url: '/v1/models/p', payload: { instances: [clearlyPositive] } }),
      400,
      'USAGE',
    )
    expectError(
      await app.inject({
        method: 'POST',
        url: '/v1/models/..%2F..%2Fetc:predict',
        payload: { instances: [clearlyPositive] },
      }),
      400,
      'USAGE',
      /pipeline name "..\/..\/etc" is not allowed/,
    )
  })

  it('serves predictions over real HTTP', async () => {
    const { app: live, url } = await startServer(ws.platform, { port: 0 })
    try {
      const response = await fetch(`${url}/v1/models/p:predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ instances: [clearlyPositive, clearlyNegative] }),
      })
      expect(response.status).toBe(200)
      const body = (await response.json()) as PredictBody
      expect(body.modelVersion).toBe(1)
      expect(body.predictionIds).toHaveLength(2)
      expect(body.predictions[0]).toBeGreaterThan(body.predictions[1] as number)
      const unauthorised = await fetch(`${url}/api/v1/datasets`, { method: 'POST' })
      expect(unauthorised.status).toBe(401)
    } finally {
      await live.close()
    }
  })

  it('swaps the production model under load without failing a request', async () => {
    const server = await buildServer(ws.platform, { token })
    try {
      const payload = { instances: [clearlyPositive, clearlyNegative] }
      const reference = (await predict(payload, 'p', server)).json<PredictBody>()
      expect(reference.modelVersion).toBe(1)
      const v2 = await registerCopy(ws.platform, 1)

      const refreshMs = 1000
      // A version must be served within this long after the move (refresh interval plus time to load it).
      const swapMs = refreshMs + 300
      const results: {
        startedAt: number
        finishedAt: number
        status: number
        version: number | undefined
        predictions: number[] | undefined
      }[] = []
      let movedAt = Number.POSITIVE_INFINITY
      let stopAt = Number.POSITIVE_INFINITY
      const worker = async (): Promise<void> => {
        while (Date.now() < stopAt) {
          const startedAt = Date.now()
          const response = await predict(payload, 'p', server)
          const body = response.statusCode === 200 ? response.json<PredictBody>() : undefined
          results.push({
            startedAt,
            finishedAt: Date.now(),
            status: response.statusCode,
            version: body?.modelVersion,
            predictions: body?.predictions,
          })
        }
      }
      const workers = Array.from({ length: 20 }, worker)
      // Let the load run on v1 first: wait for responses rather than a fixed time.
      const warmUntil = Date.now() + 5000
      while (results.length < 200 && Date.now() < warmUntil)
        await new Promise<void>((resolve) => setImmediate(resolve))
      expect(results.length).toBeGreaterThanOrEqual(200)
      await ws.platform.registry.moveAlias({
        pipeline: 'p',
        alias: 'production',
        version: v2,
        expected: 1,
        actor: 'test',
        reason: 'hot swap under load',
      })
      movedAt = Date.now()
      stopAt = movedAt + swapMs + 300
      await Promise.all(workers)

      expect(results.filter((r) => r.status !== 200)).toEqual([])
      for (const r of results) expect(r.predictions).toEqual(reference.predictions)
      const versions = new Set(results.map((r) => r.version))
      expect(versions).toEqual(new Set([1, v2]))
      const afterSwap = results.filter((r) => r.startedAt >= movedAt + swapMs)
      expect(afterSwap.length).toBeGreaterThan(0)
      expect(new Set(afterSwap.map((r) => r.version))).toEqual(new Set([v2]))
      // Once a request has been answered by v2, no request that starts later is answered by v1.
      const firstV2 = Math.min(...results.filter((r) => r.version === v2).map((r) => r.finishedAt))
      expect(results.filter((r) => r.version === 1 && r.startedAt > firstV2)).toEqual([])
    } finally {
      await server.close()
      const current = await ws.platform.registry.alias('p', 'production')
      if (current !== 1 && current !== undefined)
        await ws.platform.registry.moveAlias({
          pipeline: 'p',
          alias: 'production',
          version: 1,
          expected: current,
          actor: 'test',
          reason: 'restore',
        })
    }
  })
})
