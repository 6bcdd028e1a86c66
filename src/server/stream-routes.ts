import type { FastifyInstance } from 'fastify'
import type { Platform } from '../app/platform.js'
import { FreshetError } from '../core/errors.js'
import { assertName } from '../core/names.js'
import { datasetSpecOf } from '../data/datasets.js'
import { labelMaturity } from '../streaming/labels.js'
import { streamStatus, streamedDatasets } from '../streaming/stream-source.js'

/**
 * `GET /api/v1/streams` (the streamed datasets) and `GET /api/v1/streams/{dataset}[?windows=N]`: watermark, on-time,
 * late and too-late counts, and each recent window's batches (read-only); `GET /api/v1/datasets/{name}/labels`: the
 * maturity of a dataset's delayed labels.
 */
export function registerStreamRoutes(app: FastifyInstance, platform: Platform): void {
  app.get('/api/v1/streams', () => ({ datasets: streamedDatasets(platform) }))
  app.get('/api/v1/streams/:dataset', async (request) => {
    const dataset = (request.params as { dataset: string }).dataset
    assertName('dataset', dataset)
    const raw = (request.query as { windows?: string }).windows
    const windows = raw === undefined ? 50 : Number(raw)
    if (!(Number.isInteger(windows) && windows >= 1 && windows <= 1000)) {
      throw new FreshetError('USAGE', `windows: expected an integer from 1 to 1000, got ${JSON.stringify(raw)}`)
    }
    return streamStatus(platform, dataset, windows)
  })
  // Delayed labels: positives, negatives, pending and maturity per bucket of a dataset with `labels` (read-only).
  app.get('/api/v1/datasets/:name/labels', async (request) => {
    const dataset = (request.params as { name: string }).name
    assertName('dataset', dataset)
    if (datasetSpecOf(platform.config, dataset).labels === undefined) {
      throw new FreshetError('USAGE', `dataset ${dataset} takes no labels from a topic`, { hint: `declare datasets.${dataset}.labels: { examples, topic, key, window }` })
    }
    return labelMaturity(platform, dataset)
  })
}
