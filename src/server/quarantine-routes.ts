import type { FastifyInstance } from 'fastify'
import type { Platform } from '../app/platform.js'
import { FreshetError } from '../core/errors.js'
import { decide, listQuarantine, showBatch } from '../validation/quarantine.js'

const batchId = (params: unknown): string => {
  const id = (params as { batch?: string }).batch ?? ''
  if (!/^b_[0-9a-f]{16}$/.test(id)) throw new FreshetError('BATCH_NOT_FOUND', `no batch ${JSON.stringify(id)}`)
  return id
}

/** `/api/v1/quarantine`: list, show, and (authenticated, with a reason) release or discard. */
export function registerQuarantineRoutes(app: FastifyInstance, platform: Platform): void {
  app.get('/api/v1/quarantine', async (request) => {
    const dataset = (request.query as { dataset?: string }).dataset
    return { batches: await listQuarantine(platform, dataset) }
  })
  app.get('/api/v1/quarantine/:batch', async (request) => showBatch(platform, batchId(request.params)))
  for (const action of ['release', 'discard'] as const) {
    app.post(`/api/v1/quarantine/:batch/${action}`, async (request) => {
      const body = (request.body ?? {}) as { reason?: unknown; actor?: unknown }
      if (typeof body.reason !== 'string' || body.reason.trim() === '') {
        throw new FreshetError('USAGE', `reason: a non-empty string saying why is required to ${action} the batch`)
      }
      const actor = typeof body.actor === 'string' && body.actor.trim() !== '' ? `api:${body.actor.slice(0, 64)}` : 'api'
      return decide(platform, batchId(request.params), action, { actor, reason: body.reason.slice(0, 2000) })
    })
  }
}
