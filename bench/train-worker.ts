/**
 * Freshet's side of the train benchmark, run by `train.ts` in its own process so that its peak RSS is its own.
 * Prints its result as JSON on the last stdout line (see `finishWorker`).
 *
 *   prepare <flights|spam> <dir> [rows]   loads the dataset (flights: the first rows by time) in time order, hashes it once with our transform and
 *                                          writes train/test as svmlight (for the peers) and binary (for ours)
 *   fit <dir> <ftrl|adagrad> <params-json> <probabilities.f64>
 *                                          our linear trainer on the hashed train matrix; P(1) of the test rows
 *   validate <dir> <grid-json>             our linear trainer over a grid of hyperparameters, on a validation split
 *                                          of the train rows only
 */
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { readMatrix, writeMatrix, writeSvmlight } from './matrix-files.js'
import { finishWorker, secondsSince } from './support.js'
import { featureSpecs, preparedFiles, type DatasetName } from './train-data.js'

/** What `prepare` reports. */
export interface PrepareReport {
  readonly trainRows: number
  readonly testRows: number
  readonly trainNnz: number
  readonly testNnz: number
  readonly trainPositives: number
  readonly testPositives: number
  readonly hashBits: number
  /** Reading the raw rows (for spam: parsing the e-mails and writing/reading their JSONL). */
  readonly loadSeconds: number
  /** `fitTransform` on the train rows. */
  readonly fitTransformSeconds: number
  /** `transform` of the train and test rows into hashed sparse rows. */
  readonly transformSeconds: number
  readonly writeSeconds: number
  readonly svmlightBytes: number
}

/** What `fit` reports. */
export interface FitReport {
  readonly loadSeconds: number
  readonly fitSeconds: number
  readonly predictSeconds: number
}

async function prepare(dataset: DatasetName, dir: string, limit: number | undefined): Promise<PrepareReport> {
  const { fitTransform, transform } = await import('../src/features/transform.js')
  const { loadDataset, sliceBatch } = await import('./train-data.js')
  let start = performance.now()
  const raw = await loadDataset(dataset, dir, limit)
  const loadSeconds = secondsSince(start)
  const n = raw.batch.length
  const cut = n - raw.testRows
  const trainBatch = sliceBatch(raw.batch, 0, cut)
  const testBatch = sliceBatch(raw.batch, cut, n)
  const { hashBits, features } = featureSpecs[dataset]

  start = performance.now()
  const fitted = fitTransform(features, trainBatch, { hashBits })
  const fitTransformSeconds = secondsSince(start)
  start = performance.now()
  const train = { x: transform(fitted, trainBatch), y: raw.y.subarray(0, cut) }
  const test = { x: transform(fitted, testBatch), y: raw.y.subarray(cut, n) }
  const transformSeconds = secondsSince(start)

  start = performance.now()
  await writeMatrix(path.join(dir, preparedFiles.trainBin), train)
  await writeMatrix(path.join(dir, preparedFiles.testBin), test)
  const svmlightBytes =
    (await writeSvmlight(path.join(dir, preparedFiles.trainSvm), train)) +
    (await writeSvmlight(path.join(dir, preparedFiles.testSvm), test))
  const writeSeconds = secondsSince(start)
  const sum = (a: Float64Array) => a.reduce((s, v) => s + v, 0)
  return {
    trainRows: train.x.rows,
    testRows: test.x.rows,
    trainNnz: train.x.indptr[train.x.rows]!,
    testNnz: test.x.indptr[test.x.rows]!,
    trainPositives: sum(train.y),
    testPositives: sum(test.y),
    hashBits,
    loadSeconds,
    fitTransformSeconds,
    transformSeconds,
    writeSeconds,
    svmlightBytes,
  }
}

async function fit(
  dir: string,
  optimizer: 'ftrl' | 'adagrad',
  params: object,
  out: string,
): Promise<FitReport> {
  const { createTrainer } = await import('../src/training/built-ins.js')
  let start = performance.now()
  const train = await readMatrix(path.join(dir, preparedFiles.trainBin))
  const test = await readMatrix(path.join(dir, preparedFiles.testBin))
  const loadSeconds = secondsSince(start)
  const trainer = createTrainer({ type: 'linear', optimizer, epochs: 1, ...params })
  start = performance.now()
  const weights = await trainer.fit({ x: train.x, y: train.y, task: 'binary' })
  const fitSeconds = secondsSince(start)
  start = performance.now()
  const probabilities = trainer.predict(weights, test.x)
  const predictSeconds = secondsSince(start)
  await writeFile(
    out,
    new Uint8Array(probabilities.buffer, probabilities.byteOffset, probabilities.byteLength),
  )
  return { loadSeconds, fitSeconds, predictSeconds }
}

/** One configuration's quality on the validation rows. */
export interface ValidationRow {
  readonly optimizer: 'ftrl' | 'adagrad'
  readonly params: Record<string, number>
  readonly logLoss: number
  readonly auc: number
}

/**
 * Our learner over a grid of hyperparameters, trained on the first 80% of the train rows and scored on the rest
 * (in time order, like the test split): how the benchmark's configuration is chosen without looking at the test rows.
 */
async function validate(
  dir: string,
  grid: ReadonlyArray<{ optimizer: 'ftrl' | 'adagrad'; params: Record<string, number> }>,
): Promise<ValidationRow[]> {
  const { createTrainer } = await import('../src/training/built-ins.js')
  const { takeRows } = await import('../src/features/sparse.js')
  const { binaryMetrics } = await import('../src/evaluation/metrics.js')
  const { holdoutFraction } = await import('./train-data.js')
  const { x, y } = await readMatrix(path.join(dir, preparedFiles.trainBin))
  const cut = x.rows - Math.round(holdoutFraction * x.rows)
  const range = (from: number, to: number) => Uint32Array.from({ length: to - from }, (_, i) => from + i)
  const train = { x: takeRows(x, range(0, cut)), y: y.subarray(0, cut), task: 'binary' as const }
  const held = { x: takeRows(x, range(cut, x.rows)), y: y.subarray(cut) }
  const rows: ValidationRow[] = []
  for (const { optimizer, params } of grid) {
    const trainer = createTrainer({ type: 'linear', optimizer, epochs: 1, ...params })
    const metrics = binaryMetrics(held.y, trainer.predict(await trainer.fit(train), held.x))
    rows.push({ optimizer, params, logLoss: metrics.logLoss, auc: metrics.auc })
  }
  return rows
}

const [mode, a, b, c, d] = process.argv.slice(2)
if (mode === 'prepare' && (a === 'flights' || a === 'spam') && b !== undefined) {
  finishWorker(await prepare(a, b, c === undefined ? undefined : Number(c)))
} else if (
  mode === 'fit' &&
  a !== undefined &&
  (b === 'ftrl' || b === 'adagrad') &&
  c !== undefined &&
  d !== undefined
) {
  finishWorker(await fit(a, b, JSON.parse(c) as object, d))
} else if (mode === 'validate' && a !== undefined && b !== undefined) {
  finishWorker({ rows: await validate(a, JSON.parse(b) as Parameters<typeof validate>[1]) })
} else {
  console.error(
    'usage: train-worker.js prepare <flights|spam> <dir> [rows] | fit <dir> <ftrl|adagrad> <params-json> <out> | validate <dir> <grid-json>',
  )
  process.exit(2)
}
