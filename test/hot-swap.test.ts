import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildServer } from '../src/server/app.js'
import {
  clearlyPositive,
  registerCopy,
  trainedWorkspace,
  type TrainedWorkspace,
} from './support/trained-model.js'

let ws: TrainedWorkspace
let app: FastifyInstance
let url: string

beforeAll(async () => {
  ws = await trainedWorkspace()
  app = await buildServer(ws.platform, {})
  await app.listen({ host: '127.0.0.1', port: 0 })
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1/models/p:predict`
}, 120_000)
afterAll(async () => {
  await app?.close()
  await ws?.dispose()
})

interface Answer {
  startedAt: number
  status: number
  version: number | undefined
  error?: string
}

/** The server promises to serve a moved alias within 1 s; the test allows half a second more for load. */
const swapWithinMs = 1500
/** Clients sending requests back to back, each waiting for its answer before sending the next. */
const clients = 8
/** Answers that must start after each move's deadline before the next move, so every deadline is tested. */
const answersPerWindow = 40

describe('hot swap under load', () => {
  it('moves production between two versions five times without a failed request, each move served within the bound', async () => {
    const v1 = 1
    const v2 = await registerCopy(ws.platform, v1)
    const answers: Answer[] = []
    let stop = false
    // Resolved when an answer arrives that makes its condition true: waits are on answers, not on the clock.
    let waiter: { until: () => boolean; resolve: () => void } | undefined
    const record = (answer: Answer) => {
      answers.push(answer)
      if (waiter?.until() === true) {
        waiter.resolve()
        waiter = undefined
      }
    }
    const waitFor = (until: () => boolean, what: string) =>
      new Promise<void>((resolve, reject) => {
        if (until()) return resolve()
        // Only a guard against a hung server: the assertions below do not depend on it.
        const guard = setTimeout(
          () => reject(new Error(`gave up waiting for ${what} (${answers.length} answers so far)`)),
          60_000,
        )
        waiter = {
          until,
          resolve: () => {
            clearTimeout(guard)
            resolve()
          },
        }
      })

    const client = async () => {
      while (!stop) {
        const startedAt = Date.now()
        try {
          const response = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ instances: [clearlyPositive] }),
          })
          const text = await response.text()
          const version =
            response.status === 200 ? (JSON.parse(text) as { modelVersion: number }).modelVersion : undefined
          record({
            startedAt,
            status: response.status,
            version,
            ...(response.status === 200 ? {} : { error: text }),
          })
        } catch (error) {
          record({ startedAt, status: 0, version: undefined, error: String(error) })
        }
      }
    }
    const running = Array.from({ length: clients }, client)

    const moves: { to: number; at: number }[] = []
    try {
      await waitFor(() => answers.length >= 100, '100 answers from v1')
      let current = v1
      for (const to of [v2, v1, v2, v1, v2]) {
        await ws.platform.registry.moveAlias({
          pipeline: 'p',
          alias: 'production',
          version: to,
          expected: current,
          actor: 'test',
          reason: `hot swap to v${to}`,
        })
        const at = Date.now()
        moves.push({ to, at })
        current = to
        await waitFor(
          () => answers.filter((a) => a.startedAt >= at + swapWithinMs).length >= answersPerWindow,
          `${answersPerWindow} answers after the move to v${to}`,
        )
      }
    } finally {
      stop = true
      await Promise.all(running)
    }

    expect(answers.filter((a) => a.status !== 200)).toEqual([])
    expect(new Set(answers.map((a) => a.version))).toEqual(new Set([v1, v2]))
    moves.forEach((move, i) => {
      const until = moves[i + 1]?.at ?? Number.POSITIVE_INFINITY
      const settled = answers.filter((a) => a.startedAt >= move.at + swapWithinMs && a.startedAt < until)
      expect(settled.length, `answers after move ${i + 1}`).toBeGreaterThanOrEqual(answersPerWindow)
      const stale = settled.filter((a) => a.version !== move.to)
      const lastOld = answers
        .filter((a) => a.startedAt >= move.at && a.startedAt < until && a.version !== move.to)
        .at(-1)
      expect(
        stale.length,
        `answers still from the old version ${swapWithinMs} ms after the move to v${move.to} (the last one started ${lastOld === undefined ? '-' : lastOld.startedAt - move.at} ms after the move)`,
      ).toBe(0)
    })
  }, 120_000)
})
