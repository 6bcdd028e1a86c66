import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tempPlatform } from '../../test/support/workspace.js'
import type { Platform } from '../app/platform.js'
import { ingestFile } from '../data/ingest.js'
import { buildServer } from './app.js'
import { assertSafeBind } from './auth.js'
import { startServer } from './listen.js'

let platform: Platform
let dispose: () => Promise<void>
let app: FastifyInstance
const token = 'a-test-token-that-is-long-enough'

beforeAll(async () => {
  let dir: string
  ;({ platform, dir, dispose } = await tempPlatform({ datasets: { events: { eventTime: 'ts' } } }))
  const file = path.join(dir, 'e.csv')
  await writeFile(file, 'ts,v\n2024-01-01T00:00:00Z,1\n2024-01-02T00:00:00Z,2\n')
  await ingestFile(platform, 'events', file)
  app = await buildServer(platform, { token })
})
afterAll(async () => {
  await app.close()
  await dispose()
})

describe('server', () => {
  it('answers health, the dataset API and the status page', async () => {
    expect((await app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' })
    const list = (await app.inject({ url: '/api/v1/datasets' })).json<{ datasets: { name: string; rows: number; batches: number }[] }>()
    expect(list.datasets).toEqual([expect.objectContaining({ name: 'events', rows: 2, batches: 1 })])
    const batches = (await app.inject({ url: '/api/v1/datasets/events/batches' })).json<{ batches: { rows: number; state: string }[] }>()
    expect(batches.batches[0]).toMatchObject({ rows: 2, state: 'accepted' })
    const home = await app.inject({ url: '/' })
    expect(home.headers['content-type']).toContain('text/html')
    expect(home.body).toContain('events')
  })

  it('gives 404 with a code for unknown datasets and routes, and 400 for bad names', async () => {
    expect((await app.inject({ url: '/api/v1/datasets/nope' })).json()).toMatchObject({ code: 'DATASET_NOT_FOUND' })
    expect((await app.inject({ url: '/api/v1/datasets/..%2f..%2fetc' })).statusCode).toBe(400)
    expect((await app.inject({ url: '/api/v1/nothing' })).statusCode).toBe(404)
  })

  it('denies every non-read request without the token, and with a wrong one', async () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE'] as const) {
      const response = await app.inject({ method, url: '/api/v1/datasets/events/batches', payload: {} })
      expect(response.statusCode, method).toBe(401)
    }
    expect((await app.inject({ method: 'POST', url: '/api/v1/datasets', headers: { authorization: 'Bearer wrong' } })).statusCode).toBe(401)
    const open = await buildServer(platform, {})
    expect((await open.inject({ method: 'POST', url: '/api/v1/datasets', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(401)
    await open.close()
  })

  it('refuses a non-loopback bind without a token', async () => {
    expect(() => assertSafeBind('0.0.0.0', undefined)).toThrow(/refusing to listen on 0.0.0.0 without a token/)
    expect(() => assertSafeBind('127.0.0.1', undefined)).not.toThrow()
    expect(() => assertSafeBind('0.0.0.0', token)).not.toThrow()
    const previous = process.env.FRESHET_TOKEN
    delete process.env.FRESHET_TOKEN
    await expect(startServer(platform, { host: '0.0.0.0', port: 0 })).rejects.toMatchObject({ code: 'USAGE' })
    if (previous !== undefined) process.env.FRESHET_TOKEN = previous
  })

  it('listens on 127.0.0.1 by default over real HTTP', async () => {
    const { app: live, url } = await startServer(platform, { port: 0 })
    try {
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      const response = await fetch(`${url}/healthz`)
      expect(await response.json()).toEqual({ status: 'ok' })
    } finally {
      await live.close()
    }
  })
})
