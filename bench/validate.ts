import { spawn, spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { formatNumber, table } from '../src/cli/table.js'
import { formatBytes } from '../src/core/sizes.js'
import { median, printBenchJson, runCollect, runWorker, type WorkerReport } from './support.js'
import type { OursReport, PrepareReport } from './validate-worker.js'

/*
 * Validate: Freshet's validation of all of flights-3m (3,000,000 rows, the 26 prepared weeks in one Parquet file) as
 * one candidate batch, against pandas' describe() of the same rows. Ours is what ingestFile runs to validate a batch:
 * computeStatistics of the candidate, then validateCandidate (fetch the 4 latest accepted weeks, their statistics,
 * and every check: schema, label, NaN/Inf, event times, missing fractions, ranges, new values, drift). Reading the
 * file (readBatchFile) is timed apart, as pandas' load is. Each side runs in its own process, alternating.
 * Environment:
 *   FRESHET_BENCH_RUNS=n   runs per side (default 3; the median is reported)
 */

const worker = fileURLToPath(new URL('./validate-worker.js', import.meta.url))
const python = '/usr/bin/python3'
const targetRatio = 1

/** pandas: load (Parquet through pyarrow when it imports, else CSV), describe(), describe(include='all'). */
const pandasScript = `
import json, resource, sys, time
import pandas as pd
path, loader = sys.argv[1], sys.argv[2]
t = time.perf_counter()
df = pd.read_parquet(path) if loader == 'parquet' else pd.read_csv(path, parse_dates=['date'])
load = time.perf_counter() - t
t = time.perf_counter()
numeric = df.describe()
describe = time.perf_counter() - t
t = time.perf_counter()
try:
    every = df.describe(include='all', datetime_is_numeric=True)
except TypeError:
    every = df.describe(include='all')
describe_all = time.perf_counter() - t
print(json.dumps({'rows': len(df), 'loadSeconds': load, 'describeSeconds': describe,
                  'describeAllSeconds': describe_all, 'columns': list(numeric.columns),
                  'pandas': pd.__version__, 'maxRssKiB': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
`

interface PandasReport extends WorkerReport {
  readonly rows: number
  readonly loadSeconds: number
  readonly describeSeconds: number
  readonly describeAllSeconds: number
  readonly columns: string[]
  readonly pandas: string
}

const imports = (module: string) =>
  spawnSync(python, ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0

/**
 * Installs python3-pandas (and python3-pyarrow where the distribution has it) for the system Python when pandas is
 * missing, as bench/setup-peers.sh does for the other peers: apt-get only when needed, as root or with
 * passwordless sudo. Returns false when pandas is still missing.
 */
async function ensurePandas(): Promise<boolean> {
  if (imports('pandas')) return true
  const canApt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0
  const root = process.getuid?.() === 0
  const sudo = !root && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0
  if (!canApt || (!root && !sudo)) {
    console.log(
      '  pandas is missing and cannot be installed here (needs apt-get as root): apt-get install -y python3-pandas',
    )
    return false
  }
  const packages = ['python3-pandas']
  if (spawnSync('apt-cache', ['show', 'python3-pyarrow'], { stdio: 'ignore' }).status === 0)
    packages.push('python3-pyarrow')
  console.log(`  installing ${packages.join(' ')} with apt-get...`)
  const script = `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${packages.join(' ')}`
  const child = spawn(root ? 'sh' : 'sudo', root ? ['-c', script] : ['-n', 'sh', '-c', script], {
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', resolve)
  })
  if (code !== 0) console.log(`  apt-get failed (exit ${code})`)
  return imports('pandas')
}

/** Runs the pandas side under the system Python, whose peak RSS it reports itself (ru_maxrss, KiB on Linux). */
async function runPandas(file: string, loader: 'parquet' | 'csv'): Promise<PandasReport> {
  const { code, stdout } = await runCollect(python, ['-c', pandasScript, file, loader])
  if (code !== 0) throw new Error(`pandas exited with code ${code}: ${stdout.slice(-2000)}`)
  return JSON.parse(stdout.trimEnd().split('\n').at(-1) ?? '') as PandasReport
}

const seconds = (s: number) => `${s.toFixed(2)} s`
const rate = (r: number) => `${formatNumber(Math.round(r))}/s`
const kib = (k: number) => formatBytes(k * 1024)

export async function validateBench(): Promise<void> {
  const runs = Math.max(1, Number(process.env.FRESHET_BENCH_RUNS ?? 3) || 3)
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'freshet-bench-validate-'))
  try {
    const havePandas = await ensurePandas()
    const loader = havePandas && imports('pyarrow') ? 'parquet' : 'csv'
    const loadBefore = os.loadavg()[0] ?? 0
    const prepared = await runWorker<PrepareReport & WorkerReport>(worker, ['prepare', tmp])
    const parquet = path.join(tmp, 'flights-3m.parquet')
    let peerFile = parquet
    if (havePandas && loader === 'csv') {
      // Debian has no python3-pyarrow, so pandas cannot read Parquet: it reads the same rows as CSV, exported once.
      peerFile = path.join(tmp, 'flights-3m.csv')
      await runWorker(worker, ['export-csv', parquet, peerFile])
    }
    console.log(
      `  flights-3m: ${formatNumber(prepared.rows)} rows in ${prepared.weeks} weeks; ${runs} runs each of ours${havePandas ? ` and pandas (${loader})` : ''}, alternating...`,
    )

    const ours: (OursReport & WorkerReport)[] = []
    const peer: PandasReport[] = []
    for (let run = 0; run < runs; run++) {
      const workspace = await mkdtemp(path.join(tmp, 'workspace-'))
      try {
        ours.push(await runWorker<OursReport & WorkerReport>(worker, ['ours', tmp, workspace]))
      } finally {
        await rm(workspace, { recursive: true, force: true })
      }
      if (havePandas) peer.push(await runPandas(peerFile, loader))
    }
    const rows = prepared.rows
    for (const r of [...ours, ...peer]) {
      if (r.rows !== rows) throw new Error(`row counts differ: ${rows} prepared, ${r.rows} measured`)
    }

    const m = (values: number[]) => median(values)
    const o = {
      loadSeconds: m(ours.map((r) => r.loadSeconds)),
      statisticsSeconds: m(ours.map((r) => r.statisticsSeconds)),
      validateSeconds: m(ours.map((r) => r.validateSeconds)),
      seconds: m(ours.map((r) => r.statisticsSeconds + r.validateSeconds)),
      peakRssKiB: Math.max(...ours.map((r) => r.maxRssKiB)),
    }
    const p = havePandas
      ? {
          loadSeconds: m(peer.map((r) => r.loadSeconds)),
          describeSeconds: m(peer.map((r) => r.describeSeconds)),
          describeAllSeconds: m(peer.map((r) => r.describeAllSeconds)),
          peakRssKiB: Math.max(...peer.map((r) => r.maxRssKiB)),
          columns: peer[0]?.columns ?? [],
          version: peer[0]?.pandas ?? '',
        }
      : undefined
    const ratio = p === undefined ? null : p.describeSeconds / o.seconds
    const ratioAll = p === undefined ? null : p.describeAllSeconds / o.seconds
    // For context only: pandas must parse the file before describe(), while our scans decode Parquet as they go.
    const ratioWithLoad =
      p === undefined ? null : (p.loadSeconds + p.describeSeconds) / (o.loadSeconds + o.seconds)

    console.log()
    console.log(
      table(
        ['side', 'what is timed', 'time', 'rows/s', 'load (apart)', 'peak RSS'],
        [
          [
            'freshet',
            'statistics + validateCandidate',
            seconds(o.seconds),
            rate(rows / o.seconds),
            seconds(o.loadSeconds),
            kib(o.peakRssKiB),
          ],
          ['', '  computeStatistics', seconds(o.statisticsSeconds), rate(rows / o.statisticsSeconds), '', ''],
          ['', '  validateCandidate', seconds(o.validateSeconds), rate(rows / o.validateSeconds), '', ''],
          ...(p === undefined
            ? [['pandas', 'skipped: not installed', '', '', '', '']]
            : [
                [
                  `pandas ${p.version}`,
                  `describe() (${p.columns.join(', ')})`,
                  seconds(p.describeSeconds),
                  rate(rows / p.describeSeconds),
                  `${seconds(p.loadSeconds)} (${loader})`,
                  kib(p.peakRssKiB),
                ],
                [
                  '',
                  "describe(include='all')",
                  seconds(p.describeAllSeconds),
                  rate(rows / p.describeAllSeconds),
                  '',
                  '',
                ],
              ]),
        ],
      ),
    )
    if (ratio !== null && ratioAll !== null) {
      console.log(
        `  ratio (ours rows/s / pandas describe() rows/s): ${ratio.toFixed(2)}x, target >= ${targetRatio}x: ${ratio >= targetRatio ? 'ok' : 'MISSED'}; against describe(include='all'): ${ratioAll.toFixed(2)}x`,
      )
      console.log(
        `  for context, loads included on both sides (pandas ${loader} load + describe()): ${ratioWithLoad?.toFixed(2) ?? '-'}x`,
      )
    }
    const sample = ours[0]
    console.log(
      `  candidate ${formatNumber(rows)} rows against ${formatNumber(sample?.referenceRows ?? 0)} reference rows (4 weeks); anomalies found: ${sample?.anomalies.join(', ') || 'none'}`,
    )
    const loadAfter = os.loadavg()[0] ?? 0
    console.log(
      `  times are medians of ${runs} runs, each in a fresh process; peak RSS is the largest of those runs`,
    )
    console.log(
      `  load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after, on ${os.availableParallelism()} cores`,
    )
    printBenchJson('validate', {
      runs,
      rows,
      cores: os.availableParallelism(),
      loadAverage: { before: loadBefore, after: loadAfter },
      target: { ratio: targetRatio },
      ours: { ...o, rowsPerSecond: rows / o.seconds, runs: ours },
      pandas: p === undefined ? null : { ...p, loader, rowsPerSecond: rows / p.describeSeconds, runs: peer },
      ratio,
      ratioAll,
      ratioWithLoad,
      pass: ratio === null ? null : ratio >= targetRatio,
      prepareSeconds: prepared.seconds,
    })
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
}
