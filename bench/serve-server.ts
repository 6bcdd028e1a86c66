/**
 * The servers of the serve benchmark, each run by `serve.ts` in its own process so that its peak RSS is its own.
 *
 *   train <dir>                    builds a Freshet workspace in <dir>: ingests the spam example and the first
 *                                  200,000 flights, trains and registers a linear model for each (the production
 *                                  version), and writes one typical instance as a predict request
 *                                  (`<dir>/<pipeline>/request.json`)
 *   hello                          bare Fastify: `POST /` answers a small JSON (the peer)
 *   predict <dir> <pipeline>       Freshet's own server (`buildServer`) on that workspace: the real
 *                                  `POST /v1/models/<pipeline>:predict` route, with its checks, auth hook and model cache
 *
 * Servers listen on 127.0.0.1 on a free port, print `LISTENING <port>` once ready and, on SIGTERM, close and print
 * their result as JSON on the last stdout line (see `finishWorker`).
 */
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import type { FreshetConfigInput } from '../src/config/schema.js'
import { finishWorker } from './support.js'
import { featureSpecs, loadDataset, type DatasetName } from './train-data.js'

/** Same limit as `buildServer`'s default. */
const bodyLimit = 1024 * 1024
/** Flights the flights model is trained on: enough for a realistic model, quick to load. */
const flightsRows = 200_000

const serveFiles = { request: 'request.json' } as const

/** A model `train` wrote, with its predict request. */
export interface ServedModel {
  readonly pipeline: DatasetName
  readonly rows: number
  /** The predict request body, `{"instances": [one instance]}`. */
  readonly requestFile: string
  readonly requestBytes: number
  /** What the instance is, for people. */
  readonly instance: string
}

function workspaceConfig(): FreshetConfigInput {
  const pipeline = (name: DatasetName) => ({
    dataset: name,
    task: 'binary' as const,
    features: featureSpecs[name].features,
    trainer: { type: 'linear' as const, optimizer: 'ftrl' as const, hashBits: featureSpecs[name].hashBits },
    split: { by: 'random' as const, holdout: 0.2 },
  })
  return { datasets: { spam: { label: 'label' }, flights: { label: 'label' } }, pipelines: { spam: pipeline('spam'), flights: pipeline('flights') } }
}

async function openWorkspace(dir: string) {
  const { configFromObject } = await import('../src/config/load.js')
  const { openPlatform } = await import('../src/app/platform.js')
  return openPlatform(configFromObject(workspaceConfig(), dir))
}

async function trainModel(pipeline: DatasetName, dir: string): Promise<ServedModel> {
  const { ingestFile } = await import('../src/data/ingest.js')
  const { trainAndRegister } = await import('../src/training/train.js')
  const out = path.join(dir, pipeline)
  await mkdir(out, { recursive: true })
  const { batch, y } = await loadDataset(pipeline, out, pipeline === 'flights' ? flightsRows : undefined)
  // The rows as a user would ingest them: one JSON Lines file with the label beside the feature columns.
  const lines: string[] = []
  for (let r = 0; r < batch.length; r++) {
    const row: Record<string, unknown> = { label: y[r] }
    for (const [column, data] of Object.entries(batch.columns)) row[column] = data[r] ?? null
    lines.push(JSON.stringify(row))
  }
  const file = path.join(out, `${pipeline}.jsonl`)
  await writeFile(file, lines.join('\n') + '\n')
  const platform = await openWorkspace(dir)
  try {
    await ingestFile(platform, pipeline, file)
    await trainAndRegister(platform, pipeline)
  } finally {
    await platform.close()
  }

  // The request, as a client would send it: for spam the e-mail whose body length is the corpus median, for
  // flights the middle row.
  let pick = batch.length >> 1
  let instance = 'one flight'
  if (pipeline === 'spam') {
    const bodies = batch.columns.body as readonly string[]
    const lengths = bodies.map((b) => b.length).sort((a, b) => a - b)
    const medianLength = lengths[lengths.length >> 1] ?? 0
    for (let r = 0; r < bodies.length; r++) {
      if (Math.abs(bodies[r]!.length - medianLength) < Math.abs(bodies[pick]!.length - medianLength)) pick = r
    }
    instance = `one e-mail of median body length (${bodies[pick]!.length} characters)`
  }
  const values: Record<string, unknown> = {}
  for (const [column, data] of Object.entries(batch.columns)) values[column] = data[pick] ?? null
  const request = JSON.stringify({ instances: [values] })
  const requestFile = path.join(out, serveFiles.request)
  await writeFile(requestFile, request)
  return { pipeline, rows: batch.length, requestFile, requestBytes: Buffer.byteLength(request), instance }
}

function hello(): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit })
  app.post('/', () => ({ hello: 'world' }))
  return app
}

async function predictServer(dir: string): Promise<FastifyInstance> {
  const { buildServer } = await import('../src/server/app.js')
  return buildServer(await openWorkspace(dir), { bodyLimit })
}

async function serve(app: FastifyInstance): Promise<void> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('the server has no TCP address')
  process.stdout.write(`LISTENING ${address.port}\n`)
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()))
  await app.close()
  finishWorker({})
}

const [mode, dir, pipeline] = process.argv.slice(2)
if (mode === 'train' && dir !== undefined) {
  finishWorker({ models: [await trainModel('spam', dir), await trainModel('flights', dir)] })
} else if (mode === 'hello') {
  await serve(hello())
} else if (mode === 'predict' && dir !== undefined && (pipeline === 'spam' || pipeline === 'flights')) {
  await serve(await predictServer(dir))
} else {
  console.error('usage: serve-server.js train <dir> | hello | predict <dir> <spam|flights>')
  process.exit(2)
}
