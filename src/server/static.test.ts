import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { gunzipSync } from 'node:zlib'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { registerDashboard, type StatusSummary } from './static.js'

const status = (): Promise<StatusSummary> =>
  Promise.resolve({
    datasets: [{ name: 'emails<b>', batches: 2, rows: 10, states: { accepted: 2 }, schemaVersion: 1, lastIngestedAt: null }],
    pipelines: [],
  })

let dir: string
let built: FastifyInstance
let bare: FastifyInstance
const script = `console.log(${JSON.stringify('x'.repeat(4000))})\n`

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'freshet-static-'))
  const root = path.join(dir, 'web')
  await mkdir(path.join(root, 'assets'), { recursive: true })
  await writeFile(path.join(root, 'index.html'), '<!doctype html><html><body><div id="root"></div><!--freshet:noscript--><script type="module" src="/assets/index-abc123.js"></script></body></html>')
  await writeFile(path.join(root, 'assets', 'index-abc123.js'), script)
  await writeFile(path.join(root, 'assets', '.secret.js'), 'no')
  await writeFile(path.join(root, 'assets', 'notes.txt'), 'no')
  await writeFile(path.join(dir, 'outside.js'), 'no')
  built = Fastify()
  registerDashboard(built, { root, status })
  bare = Fastify()
  registerDashboard(bare, { root: path.join(dir, 'nothing-built'), status })
  await Promise.all([built.ready(), bare.ready()])
})
afterAll(async () => {
  await Promise.all([built.close(), bare.close()])
  await rm(dir, { recursive: true, force: true })
})

describe('dashboard files', () => {
  it('answers index.html for every page of the app, not cached, with the status summary for browsers without scripts', async () => {
    for (const url of ['/', '/pipelines/spam', '/runs/r_0123456789ab', '/models', '/models/spam', '/data', '/data/emails']) {
      const page = await built.inject({ url })
      expect(page.statusCode, url).toBe(200)
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8')
      expect(page.headers['cache-control']).toBe('no-cache')
      expect(page.headers['content-security-policy']).toContain("default-src 'self'")
      expect(page.body).toContain('<script type="module" src="/assets/index-abc123.js">')
      expect(page.body).toMatch(/<noscript><main>[\s\S]*emails&#60;b&#62;[\s\S]*<\/main><\/noscript>/)
    }
    expect((await built.inject({ url: '/elsewhere' })).statusCode).toBe(404)
  })

  it('serves built assets for a year, gzipped when the browser accepts it', async () => {
    const plain = await built.inject({ url: '/assets/index-abc123.js' })
    expect(plain.statusCode).toBe(200)
    expect(plain.headers['content-type']).toBe('text/javascript; charset=utf-8')
    expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable')
    expect(plain.body).toBe(script)
    const zipped = await built.inject({ url: '/assets/index-abc123.js', headers: { 'accept-encoding': 'br, gzip' } })
    expect(zipped.headers['content-encoding']).toBe('gzip')
    expect(gunzipSync(zipped.rawPayload).toString()).toBe(script)
  })

  it('serves nothing but the build’s own asset files: no traversal, no hidden or unknown files', async () => {
    for (const url of ['/assets/..%2F..%2Foutside.js', '/assets/..%2Findex.html', '/assets/%2E%2E/outside.js', '/assets/.secret.js', '/assets/notes.txt', '/assets/missing-123.js', '/assets/']) {
      const response = await built.inject({ url })
      expect(response.statusCode, url).toBe(404)
      expect(response.body).not.toBe('no')
    }
  })

  it('falls back to the server-rendered status page when the dashboard is not built', async () => {
    const page = await bare.inject({ url: '/' })
    expect(page.statusCode).toBe(200)
    expect(page.body).toMatch(/^<!doctype html>/)
    expect(page.body).toContain('emails&#60;b&#62;')
    expect(page.body).not.toContain('<script')
    expect((await bare.inject({ url: '/pipelines/spam' })).statusCode).toBe(404)
    expect((await bare.inject({ url: '/assets/index-abc123.js' })).statusCode).toBe(404)
  })
})
