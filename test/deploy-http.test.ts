import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AliasMove } from '../src/registry/registry.js'
import { buildServer } from '../src/server/app.js'
import { registerCopy, trainedWorkspace, type TrainedWorkspace } from './support/trained-model.js'

let ws: TrainedWorkspace
let app: FastifyInstance
const token = 'deploy-test-token'
const auth = { authorization: `Bearer ${token}` }

beforeAll(async () => {
  ws = await trainedWorkspace()
  expect(await registerCopy(ws.platform, 1)).toBe(2)
  const { model, manifest, weights } = await ws.platform.registry.load('p', 1)
  const rejected = await ws.platform.registry.register({
    pipeline: 'p',
    task: model.task,
    trainer: model.trainer,
    manifest,
    weights,
    metrics: model.metrics,
    lineage: {},
    status: 'rejected',
  })
  expect(rejected.version).toBe(3)
  expect(await registerCopy(ws.platform, 1)).toBe(4)
  app = await buildServer(ws.platform, { token })
}, 120_000)
afterAll(async () => {
  await app?.close()
  await ws?.dispose()
})

const production = () => ws.platform.registry.alias('p', 'production')
const put = (body: unknown, headers: Record<string, string> = auth, alias = 'production') =>
  app.inject({
    method: 'PUT',
    url: `/api/v1/models/p/aliases/${alias}`,
    headers,
    payload: body as Record<string, unknown>,
  })
const rollback = (body: unknown, headers: Record<string, string> = auth) =>
  app.inject({
    method: 'POST',
    url: '/api/v1/models/p/rollback',
    headers,
    payload: body as Record<string, unknown>,
  })

describe('alias moves over HTTP', () => {
  it('refuses every move without the bearer token, changing nothing', async () => {
    for (const response of [
      await put({ version: 2, expected: 1, reason: 'x' }, {}),
      await put({ version: 2, expected: 1, reason: 'x' }, { authorization: 'Bearer wrong' }),
      await rollback({ reason: 'x' }, {}),
    ]) {
      expect(response.statusCode).toBe(401)
    }
    expect(await production()).toBe(1)
  })

  it('moves an alias by compare-and-swap on the expected version, recording the named actor', async () => {
    const moved = await put(
      { version: 2, expected: 1, reason: 'better on March' },
      { ...auth, 'x-freshet-actor': 'carol <script>\u0007' },
    )
    expect(moved.statusCode, moved.body).toBe(200)
    expect(moved.json()).toMatchObject({
      pipeline: 'p',
      alias: 'production',
      from: 1,
      to: 2,
      changed: true,
      move: { actor: 'api:carolscript', reason: 'better on March' },
    })
    expect(await production()).toBe(2)

    const stale = await put({ version: 4, expected: 1, reason: 'stale' })
    expect(stale.statusCode).toBe(409)
    expect(stale.json()).toMatchObject({
      code: 'ALIAS_CONFLICT',
      message: 'p/production points at v2, not v1 as expected; nothing was changed',
    })

    // Of two concurrent moves from the same expected version, one wins and the other is answered 409.
    const [a, b] = await Promise.all([
      put({ version: 1, expected: 2, reason: 'race a' }),
      put({ version: 4, expected: 2, reason: 'race b' }),
    ])
    expect([a.statusCode, b.statusCode].sort()).toEqual([200, 409])
    const winner = a.statusCode === 200 ? 1 : 4
    expect(await production()).toBe(winner)
    expect((await put({ version: 4, expected: winner, reason: 'settle on v4' })).json()).toMatchObject({
      to: 4,
      changed: winner !== 4,
    })

    // Without a header the actor is just `api`; a new alias is created with expected null.
    const staging = await put({ version: 2, expected: null, reason: '' }, auth, 'staging')
    expect(staging.statusCode, staging.body).toBe(200)
    expect(staging.json()).toMatchObject({ alias: 'staging', from: null, to: 2, move: { actor: 'api' } })
  })

  it('serves a version that failed its gate only with force and a reason', async () => {
    const refused = await put({ version: 3, expected: 4, reason: 'try' })
    expect(refused.statusCode).toBe(409)
    expect(refused.json()).toMatchObject({ code: 'MODEL_REJECTED' })
    expect((await put({ version: 3, expected: 4, reason: '', force: true })).statusCode).toBe(400)
    const forced = await put({ version: 3, expected: 4, reason: 'hotfix', force: true })
    expect(forced.statusCode, forced.body).toBe(200)
    expect(forced.json()).toMatchObject({
      forced: true,
      move: { reason: 'forced past its failed gate: hotfix' },
    })
    expect(await production()).toBe(3)
  })

  it('validates bodies and names, saying what is wrong', async () => {
    const cases: [unknown, RegExp][] = [
      [
        { version: 2, reason: 'x' },
        /expected: required: the version number the alias points at now, or null/,
      ],
      [[1, 2], /the body must be a JSON object/],
      [{ version: '2', expected: 3, reason: 'x' }, /version: /],
      [{ version: 2.5, expected: 3, reason: 'x' }, /version: expected a whole version number/],
      [{ version: 2, expected: 3, reason: 'x', actor: 'root' }, /unknown key "actor"/],
      [{ version: 2, expected: 3, reason: 'x'.repeat(501) }, /reason: at most 500 characters/],
      [
        { version: 2, expected: 3, reason: 'line one\nline two' },
        /one line of text without control characters/,
      ],
    ]
    for (const [body, message] of cases) {
      const response = await put(body)
      expect(response.statusCode, JSON.stringify(body)).toBe(400)
      expect(response.json<{ message: string }>().message).toMatch(message)
    }
    const large = await put({ version: 2, expected: 3, reason: 'x', pad: 'y'.repeat(20_000) })
    expect(large.statusCode).toBe(413)
    expect((await put({ version: 2, expected: 3, reason: 'x' }, auth, 'Bad%20Alias')).statusCode).toBe(400)
    expect(
      (
        await app.inject({
          method: 'PUT',
          url: '/api/v1/models/nope/aliases/production',
          headers: auth,
          payload: { version: 1, expected: null, reason: 'x' },
        })
      ).statusCode,
    ).toBe(404)
    expect(await production()).toBe(3)
  })
})

describe('reading an alias and its history', () => {
  it('answers the version, its moves, and the version at a given time', async () => {
    const history = await ws.platform.registry.history('p')
    const body = (await app.inject({ url: '/api/v1/models/p/aliases/production' })).json<{
      version: number | null
      history: AliasMove[]
    }>()
    expect(body.version).toBe(3)
    expect(body.history.map((m) => m.toVersion)).toEqual(
      history.filter((m) => m.alias === 'production').map((m) => m.toVersion),
    )
    // At the time of the first move, the trained v1 was in production.
    const first = history[0] as AliasMove
    const at = (
      await app.inject({ url: `/api/v1/models/p/aliases/production?at=${encodeURIComponent(first.at)}` })
    ).json<{ at: string; version: number | null }>()
    expect(at).toMatchObject({ at: first.at, version: 1 })
    expect((await app.inject({ url: '/api/v1/models/p/aliases/production?at=1h' })).json()).toMatchObject({
      version: null,
    })
    expect((await app.inject({ url: '/api/v1/models/p/aliases/production?at=soon' })).statusCode).toBe(400)
    expect((await app.inject({ url: '/api/v1/models/p/aliases/canary' })).json()).toMatchObject({
      version: null,
      history: [],
    })
    expect((await app.inject({ url: '/api/v1/models/nope/aliases/production' })).statusCode).toBe(404)
  })
})

describe('rollback over HTTP', () => {
  it('goes back to the previous version that passed its gate, or to `to`, with a required reason', async () => {
    expect((await rollback({})).statusCode).toBe(400)
    expect((await rollback({ reason: 'x', to: 'two' })).statusCode).toBe(400)
    // Production went 1, 2, (1 or 4), 4, 3 (forced): the version before v3 that passed its gate is v4.
    const back = await rollback({ reason: 'v3 is bad', expected: 3 }, { ...auth, 'x-freshet-actor': 'dave' })
    expect(back.statusCode, back.body).toBe(200)
    expect(back.json()).toMatchObject({
      from: 3,
      to: 4,
      move: { actor: 'api:dave', reason: 'rollback: v3 is bad' },
    })
    expect((await rollback({ reason: 'again', expected: 3 })).statusCode).toBe(409)
    const to = await rollback({ reason: 'to v1', to: 1 })
    expect(to.statusCode, to.body).toBe(200)
    expect(await production()).toBe(1)
    expect((await rollback({ reason: 'x', to: 3 })).json()).toMatchObject({ code: 'MODEL_REJECTED' })
  })
})
