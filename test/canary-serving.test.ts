import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Platform } from '../src/app/platform.js'
import type { FreshetConfigInput } from '../src/config/schema.js'
import { ingestFile } from '../src/data/ingest.js'
import { buildServer } from '../src/server/app.js'
import {
  activeCanary,
  checkCanaries,
  startCanary,
  startCanaryWatcher,
  stopCanary,
  type CanaryCheck,
} from '../src/serving/canary.js'
import { trainAndRegister } from '../src/training/train.js'
import {
  clearlyNegative,
  clearlyPositive,
  fixtureConfig,
  learnableCsv,
  registerCopy,
} from './support/trained-model.js'
import { tempPlatform } from './support/workspace.js'

const token = 'a-test-token-that-is-long-enough'
const config = {
  datasets: fixtureConfig.datasets,
  pipelines: {
    p: {
      ...fixtureConfig.pipelines.p,
      deploy: {
        canary: { percent: 30, bake: '15m', minFeedback: 20 },
        rollbackOn: { metric: 'logloss', maxRegression: 0.05 },
      },
    },
  },
} satisfies FreshetConfigInput

let platform: Platform
let dispose: () => Promise<void>

beforeAll(async () => {
  const workspace = await tempPlatform(config)
  ;({ platform, dispose } = workspace)
  const file = path.join(workspace.dir, 'd.csv')
  await writeFile(file, learnableCsv())
  await ingestFile(platform, 'd', file)
  await trainAndRegister(platform, 'p', { actor: 'test' })
  expect(await platform.registry.alias('p', 'production')).toBe(1)
})
afterAll(async () => {
  await dispose?.()
})

/** A server on a real port; closed (writing its prediction log) by `close`. */
async function serve(): Promise<{ url: string; close: () => Promise<void>; app: FastifyInstance }> {
  const app = await buildServer(platform, { token })
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  return { url, app, close: () => app.close() }
}

interface Served {
  key: string
  truth: number
  version: number
  id: string
}

/** One request per key (a clear positive or negative instance), sticky by the `x-freshet-key` header. */
async function predictForKeys(url: string, keys: string[]): Promise<Served[]> {
  const served: Served[] = []
  for (const [i, key] of keys.entries()) {
    const truth = i % 2
    const response = await fetch(`${url}/v1/models/p:predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-freshet-key': key },
      body: JSON.stringify({ instances: [truth === 1 ? clearlyPositive : clearlyNegative] }),
    })
    expect(response.status).toBe(200)
    const body = (await response.json()) as { modelVersion: number; predictionIds: string[] }
    served.push({ key, truth, version: body.modelVersion, id: body.predictionIds[0]! })
  }
  return served
}

async function sendFeedback(url: string, items: { predictionId: string; label: number }[]): Promise<void> {
  const response = await fetch(`${url}/v1/models/p:feedback`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ feedback: items }),
  })
  expect(response.status, await response.clone().text()).toBe(200)
}

describe('canary', () => {
  it('routes about percent of distinct keys to the canary, the same key always to the same version', async () => {
    const v2 = await registerCopy(platform, 1)
    const canary = await startCanary(platform, {
      pipeline: 'p',
      version: v2,
      actor: 'alice',
      reason: 'try v2',
    })
    expect(canary).toMatchObject({
      version: v2,
      baselineVersion: 1,
      percent: 30,
      state: 'active',
      bakeMs: 15 * 60_000,
    })
    expect(await platform.registry.alias('p', 'candidate')).toBe(v2)
    expect((await platform.registry.history('p')).at(-1)).toMatchObject({
      alias: 'candidate',
      toVersion: v2,
      actor: 'alice',
      reason: 'canary: 30% of traffic for 15m 00s: try v2',
    })
    await expect(
      startCanary(platform, { pipeline: 'p', version: v2, actor: 'bob', reason: 'again' }),
    ).rejects.toMatchObject({
      code: 'CANARY_CONFLICT',
      message: expect.stringContaining(`already has an active canary: v${v2} on 30% of traffic`) as unknown,
    })

    const server = await serve()
    try {
      const listed = (await (await fetch(`${server.url}/api/v1/models/p/canaries`)).json()) as {
        active: { version: number; state: string } | null
      }
      expect(listed.active).toMatchObject({ version: v2, state: 'active', percent: 30 })
      const tooLong = await fetch(`${server.url}/v1/models/p:predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-freshet-key': 'k'.repeat(257) },
        body: JSON.stringify({ instances: [clearlyPositive] }),
      })
      expect(tooLong.status).toBe(400)
      expect(((await tooLong.json()) as { message: string }).message).toMatch(
        /^key: expected a string of 1 to 256 characters/,
      )
      const keys = Array.from({ length: 400 }, (_, i) => `user-${i}`)
      const first = await predictForKeys(server.url, keys)
      const again = await predictForKeys(server.url, keys)
      expect(again.map((s) => s.version)).toEqual(first.map((s) => s.version))
      // The key in the body is the same key.
      const body = await fetch(`${server.url}/v1/models/p:predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ key: 'user-7', instances: [clearlyPositive] }),
      })
      expect(((await body.json()) as { modelVersion: number }).modelVersion).toBe(first[7]!.version)
      const share = first.filter((s) => s.version === v2).length / keys.length
      expect(new Set(first.map((s) => s.version))).toEqual(new Set([1, v2]))
      expect(share).toBeGreaterThan(0.22)
      expect(share).toBeLessThan(0.38)
    } finally {
      await server.close()
    }
  })

  it('rolls back a canary whose feedback is bad during the bake, recording both numbers, and stops serving it', async () => {
    const canary = await activeCanary(platform.db, 'p')
    expect(canary).toBeDefined()
    const server = await serve()
    try {
      const served = await predictForKeys(
        server.url,
        Array.from({ length: 200 }, (_, i) => `rollback-${i}`),
      )
      // Production's answers get their true labels, the canary's the opposite: it passed its gate but is bad online.
      await sendFeedback(
        server.url,
        served.map((s) => ({
          predictionId: s.id,
          label: s.version === canary!.version ? 1 - s.truth : s.truth,
        })),
      )
    } finally {
      await server.close()
    }
    const during = new Date(Date.parse(canary!.startedAt) + 60_000)
    const [check] = await checkCanaries(platform, during)
    expect(check).toMatchObject({ pipeline: 'p', version: canary!.version, action: 'rollback' })
    expect(check!.reason).toMatch(
      new RegExp(
        `^automatic rollback of canary v${canary!.version}: online logloss \\d+\\.\\d{4} on v${canary!.version} \\(\\d+ labelled\\) vs 0\\.\\d{4} on production \\(v1\\) \\(\\d+ labelled\\): worse by \\d+\\.\\d{4}, more than rollbackOn.maxRegression 0.05$`,
      ),
    )
    expect(check!.canary).toMatchObject({
      state: 'rolled-back',
      decidedBy: 'freshet canary watcher',
      decision: check!.reason,
    })
    expect(check!.canary!.evidence!.candidate.labelled).toBeGreaterThanOrEqual(20)
    // Production did not move; candidate went back to it, with the reason in the alias history.
    expect(await platform.registry.aliases('p')).toEqual({ production: 1, candidate: 1 })
    expect((await platform.registry.history('p')).at(-1)).toMatchObject({
      alias: 'candidate',
      fromVersion: canary!.version,
      toVersion: 1,
      actor: 'freshet canary watcher',
      reason: check!.reason,
    })
    expect(await activeCanary(platform.db, 'p')).toBeUndefined()

    const after = await serve()
    try {
      const served = await predictForKeys(
        after.url,
        Array.from({ length: 50 }, (_, i) => `rollback-${i}`),
      )
      expect(new Set(served.map((s) => s.version))).toEqual(new Set([1]))
    } finally {
      await after.close()
    }
  })

  it('promotes a healthy canary at the end of its bake (through the watcher), recording why', async () => {
    const v3 = await registerCopy(platform, 1)
    // A bake of 1 ms: over by the time the watcher first looks, so the decision depends only on the feedback.
    await startCanary(platform, { pipeline: 'p', version: v3, bake: 1, actor: 'alice', reason: 'try v3' })
    const server = await serve()
    try {
      const served = await predictForKeys(
        server.url,
        Array.from({ length: 200 }, (_, i) => `healthy-${i}`),
      )
      expect(served.filter((s) => s.version === v3).length).toBeGreaterThanOrEqual(20)
      await sendFeedback(
        server.url,
        served.map((s) => ({ predictionId: s.id, label: s.truth })),
      )
    } finally {
      await server.close()
    }
    const decided = new Promise<CanaryCheck>((resolve, reject) => {
      const stop = startCanaryWatcher(platform, {
        intervalMs: 20,
        onDecision: (check) => void stop().then(() => resolve(check)),
        onError: (error) => void stop().then(() => reject(error as Error)),
      })
    })
    const check = await decided
    expect(check).toMatchObject({ version: v3, action: 'promote', canary: { state: 'promoted' } })
    expect(check.reason).toMatch(
      new RegExp(
        `^canary v${v3} promoted after its bake: online logloss 0\\.\\d{4} on v${v3} \\(\\d+ labelled\\) vs 0\\.\\d{4} on production \\(v1\\)`,
      ),
    )
    expect(await platform.registry.alias('p', 'production')).toBe(v3)
    expect((await platform.registry.history('p')).at(-1)).toMatchObject({
      alias: 'production',
      fromVersion: 1,
      toVersion: v3,
      actor: 'freshet canary watcher',
      reason: check.reason,
    })
  })

  it('without enough feedback extends the bake once, then ends inconclusive and keeps production', async () => {
    const production = await platform.registry.alias('p', 'production')
    const v4 = await registerCopy(platform, 1)
    const canary = await startCanary(platform, {
      pipeline: 'p',
      version: v4,
      percent: 10,
      actor: 'alice',
      reason: 'try v4',
    })
    const bakeEnd = Date.parse(canary.bakeUntil)
    const [extended] = await checkCanaries(platform, new Date(bakeEnd + 1))
    expect(extended).toMatchObject({
      action: 'extend',
      canary: { state: 'active', extensions: 1, bakeUntil: new Date(bakeEnd + 15 * 60_000).toISOString() },
    })
    expect(extended!.reason).toContain('at least 20 labelled predictions per arm are needed')
    expect((await checkCanaries(platform, new Date(bakeEnd + 60_000)))[0]?.action).toBe('continue')
    const [ended] = await checkCanaries(platform, new Date(bakeEnd + 15 * 60_000 + 1))
    expect(ended).toMatchObject({ action: 'inconclusive', canary: { state: 'inconclusive' } })
    expect(await platform.registry.aliases('p')).toEqual({ production, candidate: production })
    const server = await serve()
    try {
      const history = (await (await fetch(`${server.url}/api/v1/models/p/canaries`)).json()) as {
        active: unknown
        canaries: { version: number; state: string }[]
      }
      expect(history.active).toBeNull()
      expect(history.canaries.map((c) => [c.version, c.state])).toEqual([
        [v4, 'inconclusive'],
        [v4 - 1, 'promoted'],
        [v4 - 2, 'rolled-back'],
      ])
    } finally {
      await server.close()
    }
  })

  it('refuses canaries that cannot be judged or served, and lets an operator stop one', async () => {
    await expect(
      startCanary(platform, { pipeline: 'p', version: 1, percent: 100, actor: 'a', reason: 'r' }),
    ).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringContaining('above 0% and below 100%, got 100%') as unknown,
    })
    const production = (await platform.registry.alias('p', 'production'))!
    await expect(
      startCanary(platform, { pipeline: 'p', version: production, actor: 'a', reason: 'r' }),
    ).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringContaining('already the production model') as unknown,
    })
    await expect(
      startCanary(platform, { pipeline: 'p', version: 99, actor: 'a', reason: 'r' }),
    ).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' })
    const v5 = await registerCopy(platform, 1)
    await startCanary(platform, { pipeline: 'p', version: v5, actor: 'alice', reason: 'try v5' })
    const stopped = await stopCanary(platform, { pipeline: 'p', actor: 'bob', reason: 'customer complaints' })
    expect(stopped).toMatchObject({ state: 'rolled-back', decision: 'stopped by bob: customer complaints' })
    expect(await platform.registry.alias('p', 'candidate')).toBe(production)
    await expect(
      stopCanary(platform, { pipeline: 'p', actor: 'bob', reason: 'again' }),
    ).rejects.toMatchObject({ code: 'CANARY_NOT_FOUND' })
  })
})
