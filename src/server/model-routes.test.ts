import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { trainedWorkspace, type TrainedWorkspace } from '../../test/support/trained-model.js'
import { buildServer } from './app.js'

let ws: TrainedWorkspace
let app: FastifyInstance

beforeAll(async () => {
  ws = await trainedWorkspace()
  app = await buildServer(ws.platform, {})
})
afterAll(async () => {
  await app?.close()
  await ws?.dispose()
})

describe('pipeline and model views', () => {
  it('lists pipelines with their production version and its holdout metrics', async () => {
    const { pipelines } = (await app.inject({ url: '/api/v1/pipelines' })).json<{ pipelines: { name: string; production: number | null; versions: number; metrics: { auc?: number } | null }[] }>()
    const p = pipelines.find((x) => x.name === 'p')
    expect(p).toMatchObject({ production: 1, versions: 1 })
    expect(p?.metrics?.auc).toBeGreaterThan(0.5)
    expect(pipelines.find((x) => x.name === 'untrained')).toMatchObject({ production: null, versions: 0, metrics: null })
  })

  it('shows versions, aliases and who moved them, and the status page names the production model', async () => {
    const body = (await app.inject({ url: '/api/v1/models/p/versions' })).json<{ aliases: Record<string, number>; versions: { version: number; manifestSha256: string }[]; history: { toVersion: number; reason: string }[] }>()
    expect(body.aliases).toEqual({ production: 1 })
    expect(body.versions[0]?.manifestSha256).toMatch(/^[0-9a-f]{64}$/)
    expect(body.history[0]).toMatchObject({ toVersion: 1 })
    expect((await app.inject({ url: '/api/v1/models/nope/versions' })).statusCode).toBe(404)
    const home = (await app.inject({ url: '/' })).body
    expect(home).toMatch(/<th scope="row"><a href="\/api\/v1\/models\/p\/versions">p<\/a><\/th><td>[^<]+<\/td><td>static<\/td><td>v1<\/td><td>AUC 0\.\d{3}/)
  })
})
