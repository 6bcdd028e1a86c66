/**
 * The infra check's child process: a fresh process, like a server starting, that loads a candidate artifact from
 * the blob store (sha256-verified), builds the serving predictor and answers sample instances. See `infra-check.ts`.
 */
import { createHash } from 'node:crypto'
import { openPlatform } from '../app/platform.js'
import { configFromObject } from '../config/load.js'
import { FreshetError } from '../core/errors.js'
import { Predictor } from '../serving/predictor.js'
import type { InfraCheckJob, InfraCheckMessage } from './infra-check.js'

const send = (message: InfraCheckMessage): Promise<void> =>
  new Promise((resolve) => {
    if (process.send === undefined) return resolve()
    process.send(message, undefined, undefined, () => resolve())
  })

async function run(job: InfraCheckJob): Promise<number[]> {
  const config = { ...configFromObject(job.config, job.root), file: job.configFile, stateDir: job.stateDir }
  const platform = await openPlatform(config)
  try {
    const read = async (key: string, expected: string): Promise<Uint8Array> => {
      const bytes = await platform.blobs.get(key)
      const actual = createHash('sha256').update(bytes).digest('hex')
      if (actual !== expected) {
        throw new FreshetError('INTEGRITY_MISMATCH', `${key} does not match the sha256 it was stored with (expected ${expected.slice(0, 12)}…, found ${actual.slice(0, 12)}…)`)
      }
      return bytes
    }
    const manifest = JSON.parse(new TextDecoder().decode(await read(job.artifact.manifestKey, job.artifact.manifestSha256))) as Record<string, unknown>
    const weights = await read(job.artifact.weightsKey, job.artifact.weightsSha256)
    const predictor = await Predictor.fromArtifact(job.pipeline, 0, manifest, weights, job.root)
    return predictor.predict(job.instances).predictions
  } finally {
    await platform.close()
  }
}

// The parent gone (killed), nobody waits for the answer: a hanging artifact must not outlive it.
process.once('disconnect', () => process.exit(1))

process.once('message', (job: InfraCheckJob) => {
  run(job).then(
    async (predictions) => {
      await send({ type: 'done', predictions })
      process.exit(0)
    },
    async (error: unknown) => {
      await send({ type: 'error', message: error instanceof Error ? error.message : String(error) })
      process.exit(1)
    },
  )
})
