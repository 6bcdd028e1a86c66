import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { openPlatform } from '../src/app/platform.js'
import { configFromObject } from '../src/config/load.js'
import { openDuck, type Duck } from '../src/data/duckdb.js'
import { detectFormat } from '../src/data/formats.js'
import { datasetSpecOf } from '../src/data/ingest.js'
import { readBatchFile } from '../src/data/read-batch.js'
import { recordBatch } from '../src/data/record-batch.js'
import { computeStatistics } from '../src/data/statistics.js'
import { scanCsv, scanJsonLines, type TextStructure } from '../src/data/structure.js'
import { secondsSince } from './support.js'

/** One step of an ingest: its time, and the process's peak RSS once it finished (peak RSS only grows). */
export interface Phase {
  readonly name: string
  readonly seconds: number
  readonly maxRssKiB: number
}

/**
 * Runs the steps of `ingestFile` one after another, timing each: a profile of where an ingest spends its time
 * and memory. It mirrors src/data/ingest.ts (without its checks and error translation); keep the two in step.
 */
export async function ingestPhases(
  file: string,
  workspace: string,
  datasets: Record<string, { eventTime: string }>,
): Promise<Phase[]> {
  const dataset = Object.keys(datasets)[0] ?? 'flights'
  const platform = await openPlatform(configFromObject({ datasets }, workspace))
  const phases: Phase[] = []
  async function phase<T>(name: string, work: () => Promise<T>): Promise<T> {
    const start = performance.now()
    const result = await work()
    phases.push({ name, seconds: secondsSince(start), maxRssKiB: process.resourceUsage().maxRSS })
    return result
  }
  const spec = datasetSpecOf(platform.config, dataset)
  const tmpRoot = path.join(platform.config.stateDir, 'tmp')
  await mkdir(tmpRoot, { recursive: true })
  const staging = await mkdtemp(path.join(tmpRoot, 'ingest-'))
  let duck: Duck | undefined
  try {
    const staged = path.join(staging, 'source')
    const sha256 = await phase('stage copy + sha256', async () => {
      const hash = createHash('sha256')
      await pipeline(
        createReadStream(file),
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            hash.update(chunk)
            yield chunk
          }
        },
        createWriteStream(staged),
      )
      return hash.digest('hex')
    })
    const detected = await phase('detectFormat', () => detectFormat(staged, path.basename(file)))
    const structure = await phase('structural scan', async (): Promise<TextStructure | undefined> => {
      if (detected.format === 'csv') return scanCsv(staged, detected.compression, file, spec.csv?.delimiter)
      if (detected.format === 'jsonl') return scanJsonLines(staged, detected.compression, file)
      return undefined
    })
    const opened = await phase('openDuck', () => openDuck({ tempDirectory: path.join(staging, 'duckdb') }))
    duck = opened
    const read = await phase('readBatchFile', () =>
      readBatchFile(opened, { file: staged, name: file, detected, structure, spec, outDir: staging }),
    )
    const statistics = await phase('computeStatistics', () =>
      computeStatistics(opened, read.parquetFile, read.columns),
    )
    const prefix = `datasets/${dataset}/batches/${sha256}`
    const originalKey = `${prefix}/original.${detected.format}`
    const dataKey = read.parquetFile === staged ? originalKey : `${prefix}/data.parquet`
    await phase('store blobs', async () => {
      await platform.blobs.putStream(originalKey, createReadStream(staged))
      if (dataKey !== originalKey) await platform.blobs.putStream(dataKey, createReadStream(read.parquetFile))
    })
    await phase('recordBatch', () =>
      recordBatch(platform.db, {
        dataset,
        sha256,
        sourceName: path.basename(file),
        detected,
        sizeBytes: 0,
        rows: read.rows,
        columns: read.columns,
        declared: false,
        originalKey,
        dataKey,
        minEventTime: null,
        maxEventTime: null,
        statistics,
      }),
    )
    return phases
  } finally {
    duck?.close()
    await rm(staging, { recursive: true, force: true })
    await platform.close()
  }
}
