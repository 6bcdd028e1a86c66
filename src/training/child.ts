/**
 * The trainer's child process. The runner forks it, sends one job over IPC, and gets progress and the result
 * back; the artifact goes to files in the job's folder. A crash or out-of-memory here ends this process only.
 */
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { openPlatform } from '../app/platform.js'
import { configFromObject } from '../config/load.js'
import { FreshetError, isFreshetError } from '../core/errors.js'
import type { ChildMessage, TrainingJob } from './protocol.js'
import { trainPipeline } from './run-training.js'

const send = (message: ChildMessage): Promise<void> =>
  new Promise((resolve) => {
    if (process.send === undefined) return resolve()
    process.send(message, undefined, undefined, () => resolve())
  })

async function run(job: TrainingJob): Promise<void> {
  const config = { ...configFromObject(job.config, job.root), file: job.configFile, stateDir: job.stateDir }
  const platform = await openPlatform(config)
  try {
    let lastProgress = 0
    const model = await trainPipeline(platform, job.pipeline, {
      ...(job.batchIds === undefined ? {} : { batchIds: job.batchIds }),
      ...(job.strategy === undefined ? {} : { strategy: job.strategy }),
      ...(job.production === undefined ? {} : { production: job.production }),
      onEvent: (event) => {
        // Progress is throttled so IPC never becomes the bottleneck of a fast learner.
        if (event.kind === 'progress') {
          const now = performance.now()
          if (now - lastProgress < 200 && event.examples % event.total !== 0) return
          lastProgress = now
        }
        void send({ type: 'event', event })
      },
    })
    const weightsFile = path.join(job.outDir, 'weights.bin')
    const manifestFile = path.join(job.outDir, 'manifest.json')
    await writeFile(weightsFile, model.weights)
    await writeFile(manifestFile, JSON.stringify(model.manifest))
    await send({ type: 'done', manifestFile, weightsFile, metrics: model.metrics, evaluation: model.evaluation, lineage: model.lineage, production: model.production, samples: model.samples })
  } finally {
    await platform.close()
  }
}

process.once('message', (job: TrainingJob) => {
  run(job).then(
    () => process.exit(0),
    async (error: unknown) => {
      const failure = isFreshetError(error) ? error : new FreshetError('TRAINING_FAILED', error instanceof Error ? error.message : String(error), { cause: error })
      await send({ type: 'error', error: { code: failure.code, message: failure.message, ...(failure.hint === undefined ? {} : { hint: failure.hint }), stack: error instanceof Error ? (error.stack ?? '') : '' } })
      process.exit(1)
    },
  )
})
