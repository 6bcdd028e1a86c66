import type { FastifyInstance } from 'fastify'
import type { Platform } from '../app/platform.js'
import { FreshetError } from '../core/errors.js'
import { assertName } from '../core/names.js'
import { monitoringStatus } from '../monitoring/status.js'

/** `GET /api/v1/monitoring/{pipeline}[?windows=N]`: drift and online quality per window, staleness, rules (read-only). */
export function registerMonitoringRoutes(app: FastifyInstance, platform: Platform): void {
  app.get('/api/v1/monitoring/:pipeline', async (request) => {
    const pipeline = (request.params as { pipeline: string }).pipeline
    assertName('pipeline', pipeline)
    const raw = (request.query as { windows?: string }).windows
    const windows = raw === undefined ? undefined : Number(raw)
    if (windows !== undefined && !(Number.isInteger(windows) && windows >= 1 && windows <= 500)) {
      throw new FreshetError(
        'USAGE',
        `windows: expected an integer from 1 to 500, got ${JSON.stringify(raw)}`,
      )
    }
    return monitoringStatus(platform, pipeline, windows === undefined ? {} : { windows })
  })
}
