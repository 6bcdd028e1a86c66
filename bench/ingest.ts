import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { formatNumber, table } from '../src/cli/table.js'
import { formatBytes } from '../src/core/sizes.js'
import { median, printBenchJson, runWorker, type WorkerReport } from './support.js'

/*
 * Ingest: Freshet's ingestFile (stage, scan, read with DuckDB, write Parquet, statistics, store, record) against
 * DuckDB's own SUMMARIZE of the same file, each in its own process, alternating. Environment:
 *   FRESHET_BENCH_RUNS=n     runs per side (default 3; the median is reported)
 *   FRESHET_BENCH_PHASES=1   also time ingestFile's steps one by one, once per input
 */

const worker = fileURLToPath(new URL('./ingest-worker.js', import.meta.url))
const targetRatio = 3
const targetRssKiB = 1024 * 1024
const csvRows = 500_000

interface Timed extends WorkerReport {
  readonly seconds: number
  readonly rows: number
}

interface CaseResult {
  readonly input: string
  readonly rows: number
  readonly ours: { seconds: number[]; medianSeconds: number; rowsPerSecond: number; peakRssKiB: number }
  readonly peer: { seconds: number[]; medianSeconds: number; rowsPerSecond: number; peakRssKiB: number }
  readonly ratio: number
  readonly pass: { ratio: boolean; rss: boolean }
}

/** The folder of an installed package, even when its `exports` hides package.json (as vega-datasets' does). */
function packageDir(name: string): string {
  const require = createRequire(import.meta.url)
  try {
    return path.dirname(require.resolve(`${name}/package.json`))
  } catch {
    const dir = (require.resolve.paths(name) ?? [])
      .map((d) => path.join(d, name))
      .find((d) => existsSync(path.join(d, 'package.json')))
    if (dir === undefined) throw new Error(`the ${name} package is not installed; run npm install`)
    return dir
  }
}

async function measure(
  tmp: string,
  input: string,
  file: string,
  format: 'parquet' | 'csv',
  runs: number,
): Promise<CaseResult> {
  const ours: Timed[] = []
  const peer: Timed[] = []
  for (let run = 0; run < runs; run++) {
    const workspace = await mkdtemp(path.join(tmp, 'workspace-'))
    try {
      ours.push(await runWorker<Timed>(worker, ['ours', file, workspace]))
    } finally {
      await rm(workspace, { recursive: true, force: true })
    }
    peer.push(await runWorker<Timed>(worker, ['summarize', file, format]))
  }
  const rows = ours[0]?.rows ?? 0
  for (const r of [...ours, ...peer]) {
    if (r.rows !== rows) throw new Error(`${input}: row counts differ between runs (${rows} and ${r.rows})`)
  }
  const side = (results: readonly Timed[]) => {
    const seconds = results.map((r) => r.seconds)
    const medianSeconds = median(seconds)
    return {
      seconds,
      medianSeconds,
      rowsPerSecond: rows / medianSeconds,
      peakRssKiB: Math.max(...results.map((r) => r.maxRssKiB)),
    }
  }
  const o = side(ours)
  const p = side(peer)
  const ratio = o.medianSeconds / p.medianSeconds
  return {
    input,
    rows,
    ours: o,
    peer: p,
    ratio,
    pass: { ratio: ratio <= targetRatio, rss: o.peakRssKiB < targetRssKiB },
  }
}

const seconds = (s: number) => `${s.toFixed(2)} s`
const rate = (r: number) => `${formatNumber(Math.round(r))}/s`
const kib = (k: number) => formatBytes(k * 1024)

export async function ingestBench(): Promise<void> {
  const runs = Math.max(1, Number(process.env.FRESHET_BENCH_RUNS ?? 3) || 3)
  const parquet = path.join(packageDir('vega-datasets'), 'data', 'flights-3m.parquet')
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'freshet-bench-ingest-'))
  try {
    const csv = path.join(tmp, `flights-${csvRows / 1000}k.csv`)
    const loadBefore = os.loadavg()[0] ?? 0
    await runWorker(worker, ['export-csv', parquet, csv, String(csvRows)])
    const inputs = [
      { input: 'flights-3m.parquet', file: parquet, format: 'parquet' as const },
      { input: path.basename(csv), file: csv, format: 'csv' as const },
    ]
    const results: CaseResult[] = []
    for (const { input, file, format } of inputs) {
      console.log(`  ${input}: ${runs} runs each of ingestFile and SUMMARIZE, alternating...`)
      const result = await measure(tmp, input, file, format, runs)
      results.push(result)
    }

    console.log()
    console.log(
      table(
        [
          'input',
          'rows',
          'ingest',
          'ingest rows/s',
          'SUMMARIZE',
          'SUMMARIZE rows/s',
          'ratio',
          'ingest peak RSS',
          'SUMMARIZE peak RSS',
          'targets',
        ],
        results.map((r) => [
          r.input,
          r.rows,
          seconds(r.ours.medianSeconds),
          rate(r.ours.rowsPerSecond),
          seconds(r.peer.medianSeconds),
          rate(r.peer.rowsPerSecond),
          `${r.ratio.toFixed(2)}x`,
          kib(r.ours.peakRssKiB),
          kib(r.peer.peakRssKiB),
          `${r.pass.ratio ? 'ok' : 'MISSED'} (<= ${targetRatio}x), ${r.pass.rss ? 'ok' : 'MISSED'} (< 1 GiB)`,
        ]),
      ),
    )
    const loadAfter = os.loadavg()[0] ?? 0
    console.log(
      `  times are medians of ${runs} runs, each in a fresh process; peak RSS is the largest of those runs`,
    )
    console.log(
      `  load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after, on ${os.availableParallelism()} cores`,
    )
    printBenchJson('ingest', {
      runs,
      cores: os.availableParallelism(),
      loadAverage: { before: loadBefore, after: loadAfter },
      targets: { ratio: targetRatio, peakRssKiB: targetRssKiB },
      results,
    })
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
}
