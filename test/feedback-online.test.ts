import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildServer } from '../src/server/app.js'
import { pollUntil } from './support/processes.js'
import {
  clearlyNegative,
  clearlyPositive,
  trainedWorkspace,
  type TrainedWorkspace,
} from './support/trained-model.js'

const token = 'a-test-token-that-is-long-enough'
let ws: TrainedWorkspace
let app: FastifyInstance
let url: string
/** The server's clock (prediction times, feedback ages, online windows). */
let clock = Date.parse('2030-01-01T00:00:00.000Z')

beforeAll(async () => {
  ws = await trainedWorkspace()
  app = await buildServer(ws.platform, { token, serving: { now: () => new Date(clock) } })
  url = await app.listen({ host: '127.0.0.1', port: 0 })
})
afterAll(async () => {
  await app?.close()
  await ws?.dispose()
})

interface Answer {
  status: number
  body: Record<string, unknown>
  headers: Headers
}

async function post(server: string, path: string, body: unknown, auth = true): Promise<Answer> {
  const response = await fetch(`${server}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  })
  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown>,
    headers: response.headers,
  }
}

async function predict(
  instances: unknown[],
  server = url,
): Promise<{ predictions: number[]; predictionIds: string[]; modelVersion: number }> {
  const answer = await post(server, '/v1/models/p:predict', { instances }, false)
  expect(answer.status, JSON.stringify(answer.body)).toBe(200)
  return answer.body as never
}

const feedback = (body: unknown, auth = true) => post(url, '/v1/models/p:feedback', body, auth)

async function online(window = '1h'): Promise<Record<string, unknown>> {
  const response = await fetch(`${url}/api/v1/models/p/online?window=${window}`)
  expect(response.status).toBe(200)
  return (await response.json()) as Record<string, unknown>
}

describe('feedback and online metrics', () => {
  it('joins labels to logged predictions and reports per-version AUC, log loss, accuracy and error rate that check by hand', async () => {
    clock = Date.parse('2030-01-01T00:00:00.000Z')
    const served = await predict([
      clearlyPositive,
      { ...clearlyPositive, amount: 60, color: 'blue' },
      clearlyNegative,
      { ...clearlyNegative, message: 'win meeting prize notes' },
    ])
    expect(served.modelVersion).toBe(1)
    const refused = await post(url, '/v1/models/p:predict', { instances: [{ amount: 3 }] }, false)
    expect(refused.status).toBe(400)
    const labels = [1, 0, 1, 0]
    const [first, ...rest] = served.predictionIds

    // Feedback changes state: it needs the token, unlike predict.
    expect((await feedback({ predictionId: first, label: 1 }, false)).status).toBe(401)
    expect((await feedback({ predictionId: first, label: 1 })).body).toEqual({ recorded: 1, unchanged: 0 })
    const batch = await feedback({
      feedback: rest.map((predictionId, i) => ({ predictionId, label: labels[i + 1] === 1 })),
    })
    expect(batch).toMatchObject({ status: 200, body: { recorded: 3, unchanged: 0 } })

    // By hand, from the four served probabilities.
    const p = served.predictions
    let pairs = 0
    for (const i of [0, 2]) for (const j of [1, 3]) pairs += p[i]! > p[j]! ? 1 : p[i] === p[j] ? 0.5 : 0
    const logloss =
      -labels.reduce((sum, y, i) => sum + (y === 1 ? Math.log(p[i]!) : Math.log(1 - p[i]!)), 0) / 4
    const accuracy = labels.filter((y, i) => (p[i]! >= 0.5 ? 1 : 0) === y).length / 4
    // The refused request is counted when its response has gone out, which may be just after the client read it.
    const report = await pollUntil('the refused request to be counted', async () => {
      const r = await online()
      return (r.versions as { requests: number }[])[0]?.requests === 2 ? r : undefined
    }, 10_000)
    expect(report).toMatchObject({ pipeline: 'p', task: 'binary', window: '1h', production: 1, canary: null })
    expect(report.versions).toEqual([
      {
        version: 1,
        served: 4,
        labelled: 4,
        requests: 2,
        errors: 1,
        errorRate: 0.5,
        metrics: { auc: pairs / 4, logloss: expect.closeTo(logloss, 10) as unknown, accuracy },
        sampled: false,
      },
    ])
    // The window slides: an hour later, none of it is in the last 30 minutes.
    clock += 3_600_000
    expect((await online('30m')).versions).toEqual([])
  })

  it('accepts the same label again without change, and refuses another label, unknown ids and bad labels, recording nothing', async () => {
    clock = Date.parse('2030-02-01T00:00:00.000Z')
    const {
      predictionIds: [a, b],
    } = await predict([clearlyPositive, clearlyNegative])
    expect((await feedback({ predictionId: a, label: 1 })).body).toEqual({ recorded: 1, unchanged: 0 })
    expect((await feedback({ predictionId: a, label: 1 })).body).toEqual({ recorded: 0, unchanged: 1 })

    const conflict = await feedback({ predictionId: a, label: 0 })
    expect(conflict.status).toBe(409)
    expect(conflict.body).toMatchObject({
      code: 'FEEDBACK_CONFLICT',
      message: `prediction ${a} already has the label 1, not 0; a label is recorded once and nothing was recorded`,
    })

    const unknown = await feedback({
      feedback: [
        { predictionId: b, label: 0 },
        { predictionId: 'no-such-id', label: 1 },
      ],
    })
    expect(unknown.status).toBe(404)
    expect(unknown.body).toMatchObject({
      code: 'PREDICTION_NOT_FOUND',
      message: 'feedback[1]: prediction no-such-id was never served by pipeline p; nothing was recorded',
    })
    // All or nothing: b did not get its label from the refused batch.
    expect((await feedback({ predictionId: b, label: 0 })).body).toEqual({ recorded: 1, unchanged: 0 })

    const badLabel = await feedback({ feedback: [{ predictionId: b, label: 2 }] })
    expect(badLabel).toMatchObject({
      status: 400,
      body: {
        code: 'USAGE',
        message: 'feedback[0].label: pipeline p is binary, so a label is 0 or 1 (or false/true), got 2',
      },
    })
    expect((await feedback({ label: 1 })).body).toMatchObject({
      code: 'USAGE',
      message: expect.stringContaining('predictionId: expected the id of a prediction') as unknown,
    })
    const tooMany = await feedback({
      feedback: Array.from({ length: 1001 }, () => ({ predictionId: a, label: 1 })),
    })
    expect(tooMany).toMatchObject({ status: 413, body: { code: 'INPUT_TOO_LARGE' } })
    // Another pipeline's feedback route does not find p's predictions.
    const elsewhere = await post(url, '/v1/models/untrained:feedback', { predictionId: a, label: 1 })
    expect(elsewhere).toMatchObject({ status: 404, body: { code: 'PREDICTION_NOT_FOUND' } })
  })

  it('accepts labels up to the feedback horizon (7d by default) and refuses later ones, naming the prediction and its age', async () => {
    const servedAt = Date.parse('2030-03-01T00:00:00.000Z')
    clock = servedAt
    const {
      predictionIds: [early, late],
    } = await predict([clearlyPositive, clearlyNegative])
    clock = servedAt + 6 * 86_400_000
    expect((await feedback({ predictionId: early, label: 1 })).body).toEqual({ recorded: 1, unchanged: 0 })
    clock = servedAt + 7 * 86_400_000 + 3_600_000
    const refused = await feedback({ predictionId: late, label: 0 })
    expect(refused.status).toBe(422)
    expect(refused.body).toMatchObject({
      code: 'FEEDBACK_TOO_LATE',
      message: `prediction ${late} was served 7d 1h ago (at 2030-03-01T00:00:00.000Z), beyond the feedback horizon of 7d of pipeline p; nothing was recorded`,
      hint: expect.stringContaining('pipelines.p.deploy.feedback.horizon') as unknown,
    })
  })
})

describe('prediction log under overload', () => {
  it('answers 429 when its buffer is full, before scoring, and logs exactly the predictions it answered', async () => {
    clock = Date.parse('2030-04-01T00:00:00.000Z')
    // Four predictions fit; nothing is written until asked (the interval is an hour).
    const small = await buildServer(ws.platform, {
      token,
      serving: {
        now: () => new Date(clock),
        predictionLog: { maxBuffered: 4, flushRows: 1000, flushIntervalMs: 3_600_000 },
      },
    })
    const smallUrl = await small.listen({ host: '127.0.0.1', port: 0 })
    const answered: string[] = []
    try {
      answered.push(
        ...(await predict([clearlyPositive, clearlyNegative, clearlyPositive], smallUrl)).predictionIds,
      )
      const full = await post(
        smallUrl,
        '/v1/models/p:predict',
        { instances: [clearlyPositive, clearlyNegative] },
        false,
      )
      expect(full.status).toBe(429)
      expect(full.headers.get('retry-after')).toBe('1')
      expect(full.body).toMatchObject({
        code: 'OVERLOADED',
        message: expect.stringContaining('the prediction log is full (3 predictions waiting') as unknown,
      })
      expect(full.body.predictionIds).toBeUndefined()
      answered.push(...(await predict([clearlyNegative], smallUrl)).predictionIds)
      expect(
        (await post(smallUrl, '/v1/models/p:predict', { instances: [clearlyNegative] }, false)).status,
      ).toBe(429)

      // Feedback writes what waits (its prediction must be there to be labelled), which makes room again.
      const labelled = await post(smallUrl, '/v1/models/p:feedback', { predictionId: answered[3], label: 0 })
      expect(labelled.body).toEqual({ recorded: 1, unchanged: 0 })
      answered.push(...(await predict([clearlyPositive, clearlyNegative], smallUrl)).predictionIds)
    } finally {
      // Closing writes the rest.
      await small.close()
    }
    const logged = await ws.platform.db
      .selectFrom('predictions')
      .select(['id', 'version', 'served_at', 'instance'])
      .where('served_at', '=', new Date(clock).toISOString())
      .execute()
    expect(logged.map((r) => r.id).sort()).toEqual([...answered].sort())
    expect(logged).toHaveLength(6)
    expect(logged.every((r) => r.version === 1 && r.instance !== null)).toBe(true)
  })
})
