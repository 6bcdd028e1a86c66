import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { formatNumber, table } from '../src/cli/table.js'
import { formatBytes } from '../src/core/sizes.js'
import { setupPeers, which } from './peers.js'
import type { ServedModel } from './serve-server.js'
import { median, printBenchJson, runCollect, runWorker, type WorkerReport } from './support.js'

/*
 * Serve: requests/s and latency of our predict endpoint against a bare Fastify hello-world sent the same request
 * body, for two models: spam (text: one SpamAssassin e-mail of median length) and flights (tabular: one flight).
 * Each server runs in its own process, loaded by wrk (2 threads, 20 connections); servers alternate. Environment:
 *   FRESHET_BENCH_SERVE_RUNS=n      measured runs per server (default 2; medians are reported)
 *   FRESHET_BENCH_SERVE_SECONDS=s   length of each measured run (default 10; each is preceded by a 2 s warm-up)
 */

const serverScript = fileURLToPath(new URL('./serve-server.js', import.meta.url))
const targetRatio = 0.7
const threads = 2
const connections = 20
const warmupSeconds = 2

/** What the wrk script's `done` prints: counts, and latencies in microseconds. */
interface WrkResult {
  readonly requests: number
  readonly durationUs: number
  readonly p50Us: number
  readonly p90Us: number
  readonly p99Us: number
  readonly maxUs: number
  readonly non2xx: number
  readonly socketErrors: number
}

interface Side {
  readonly name: string
  readonly kind: 'hello' | 'predict'
  readonly label: string
  readonly args: readonly string[]
  readonly path: string
  readonly model: ServedModel
}

interface SideResult {
  readonly name: string
  readonly pipeline: string
  readonly label: string
  readonly runs: WrkResult[]
  readonly requestsPerSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly errors: number
  /** Server CPU time (user + system) per request during the measured runs. */
  readonly cpuMicrosPerRequest: number
  readonly peakRssKiB: number
}

/** A wrk script that POSTs the file `body` as JSON and prints the summary as one `WRK_JSON {...}` line. */
function wrkScript(body: string): string {
  return `local file = assert(io.open([==[${body}]==], "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%.0f,"durationUs":%.0f,"p50Us":%.0f,"p90Us":%.0f,"p99Us":%.0f,"maxUs":%.0f,"non2xx":%.0f,"socketErrors":%.0f}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, e.status, e.connect + e.read + e.write + e.timeout))
end
`
}

interface RunningServer {
  readonly url: string
  /** CPU seconds (user + system) the server has used so far. */
  cpuSeconds(): number
  stop(): Promise<WorkerReport>
}

const clockTicks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100

/** User + system CPU seconds of a process, from `/proc/<pid>/stat` (fields 14 and 15). */
function cpuSecondsOf(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / clockTicks
}

async function startServer(args: readonly string[]): Promise<RunningServer> {
  const child: ChildProcessByStdio<null, Readable, null> = spawn(process.execPath, [serverScript, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let stdout = ''
  child.stdout.setEncoding('utf8')
  const closed = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', resolve)
  })
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk
      const match = /^LISTENING (\d+)$/m.exec(stdout)
      if (match !== null) resolve(Number(match[1]))
    })
    void closed.then((code) =>
      reject(new Error(`server ${args.join(' ')} exited with code ${code} before listening`)),
    )
  })
  return {
    url: `http://127.0.0.1:${port}`,
    cpuSeconds: () => cpuSecondsOf(child.pid),
    async stop() {
      child.kill('SIGTERM')
      const code = await closed
      const last = stdout.trimEnd().split('\n').at(-1) ?? ''
      if (code !== 0) throw new Error(`server ${args.join(' ')} exited with code ${code}`)
      return JSON.parse(last) as WorkerReport
    },
  }
}

async function runWrk(wrk: string, script: string, url: string, seconds: number): Promise<WrkResult> {
  const { code, stdout } = await runCollect(wrk, [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--timeout', '5s', '-s', script, url])
  const line = /^WRK_JSON (.*)$/m.exec(stdout)?.[1]
  if (code !== 0 || line === undefined)
    throw new Error(`wrk exited with code ${code}: ${stdout.slice(-1000)}`)
  return JSON.parse(line) as WrkResult
}

/** One request by hand before loading a server: the benchmark must measure successful answers. */
async function checkServer(side: Side, url: string, body: string): Promise<void> {
  const post = (text: string) =>
    fetch(`${url}${side.path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: text,
    })
  const response = await post(body)
  const answer = (await response.json()) as Record<string, unknown>
  if (response.status !== 200) throw new Error(`${side.name}: ${response.status} ${JSON.stringify(answer)}`)
  if (side.kind !== 'predict') return
  const predictions = answer.predictions as number[] | undefined
  const ids = answer.predictionIds as string[] | undefined
  const p = predictions?.[0]
  if (predictions?.length !== 1 || ids?.length !== 1 || typeof p !== 'number' || !(p >= 0 && p <= 1)) {
    throw new Error(`${side.name} answered ${JSON.stringify(answer)}`)
  }
  const bad = await post('{"instances":[{}]}')
  if (bad.status !== 400)
    throw new Error(`${side.name} accepted an instance without features (${bad.status})`)
  console.log(`  ${side.name} answers ${JSON.stringify(answer)}; an empty instance gets 400`)
}

async function measureSide(
  side: Side,
  wrk: string,
  script: string,
  body: string,
  seconds: number,
  check: boolean,
) {
  const server = await startServer(side.args)
  try {
    if (check) await checkServer(side, server.url, body)
    await runWrk(wrk, script, `${server.url}${side.path}`, warmupSeconds)
    const cpuBefore = server.cpuSeconds()
    const result = await runWrk(wrk, script, `${server.url}${side.path}`, seconds)
    const cpuSeconds = server.cpuSeconds() - cpuBefore
    return { result, cpuSeconds, report: await server.stop() }
  } catch (error) {
    await server.stop().catch(() => undefined)
    throw error
  }
}

const ms = (us: number) => `${(us / 1000).toFixed(2)} ms`
const kib = (k: number) => formatBytes(k * 1024)

export async function serveBench(): Promise<void> {
  const runs = Math.max(1, Number(process.env.FRESHET_BENCH_SERVE_RUNS ?? 2) || 2)
  const seconds = Math.max(1, Number(process.env.FRESHET_BENCH_SERVE_SECONDS ?? 10) || 10)
  await setupPeers('serve')
  const wrk = which('wrk')
  if (wrk === undefined) {
    console.log(
      '  skipped: wrk is not installed (apt-get install wrk), so there is no load generator to measure with',
    )
    printBenchJson('serve', { skipped: 'wrk is not installed' })
    return
  }
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'freshet-bench-serve-'))
  try {
    console.log('  training the spam and flights models the predict servers load...')
    const { models } = await runWorker<{ models: ServedModel[] } & WorkerReport>(serverScript, ['train', tmp])
    const sides: Side[] = []
    const scripts = new Map<string, { script: string; body: string }>()
    for (const model of models) {
      const script = path.join(tmp, `${model.pipeline}.lua`)
      await writeFile(script, wrkScript(model.requestFile))
      scripts.set(model.pipeline, { script, body: await readFile(model.requestFile, 'utf8') })
      const route = `/v1/models/${model.pipeline}:predict`
      sides.push(
        {
          name: `${model.pipeline} hello`,
          kind: 'hello',
          label: 'bare Fastify, POST /',
          args: ['hello'],
          path: '/',
          model,
        },
        {
          name: `${model.pipeline} predict`,
          kind: 'predict',
          label: `ours, POST ${route}`,
          args: ['predict', tmp, model.pipeline],
          path: route,
          model,
        },
      )
      console.log(
        `  ${model.pipeline}: both servers get the same ${formatBytes(model.requestBytes)} body, ${model.instance}`,
      )
    }
    console.log(
      `  ${runs} runs of ${seconds} s per server, alternating, each after ${warmupSeconds} s of warm-up; ` +
        `wrk -t${threads} -c${connections}`,
    )
    const loadBefore = os.loadavg()[0] ?? 0
    const measured = new Map<string, { results: WrkResult[]; rss: number[]; cpu: number[] }>(
      sides.map((s) => [s.name, { results: [], rss: [], cpu: [] }]),
    )
    for (let run = 0; run < runs; run++) {
      for (const side of sides) {
        const { script, body } = scripts.get(side.model.pipeline)!
        const { result, cpuSeconds, report } = await measureSide(side, wrk, script, body, seconds, run === 0)
        const entry = measured.get(side.name)!
        entry.results.push(result)
        entry.rss.push(report.maxRssKiB)
        entry.cpu.push(cpuSeconds)
      }
    }
    const loadAfter = os.loadavg()[0] ?? 0

    const results = sides.map((side): SideResult => {
      const { results: list, rss, cpu } = measured.get(side.name)!
      const requests = list.reduce((n, r) => n + r.requests, 0)
      return {
        name: side.name,
        pipeline: side.model.pipeline,
        label: side.label,
        runs: list,
        requestsPerSecond: median(list.map((r) => r.requests / (r.durationUs / 1e6))),
        p50Ms: median(list.map((r) => r.p50Us)) / 1000,
        p99Ms: median(list.map((r) => r.p99Us)) / 1000,
        errors: list.reduce((n, r) => n + r.non2xx + r.socketErrors, 0),
        cpuMicrosPerRequest: (1e6 * cpu.reduce((a, b) => a + b, 0)) / requests,
        peakRssKiB: Math.max(...rss),
      }
    })
    const ratios = models.map((model) => {
      const rate = (kind: string) =>
        results.find((r) => r.name === `${model.pipeline} ${kind}`)!.requestsPerSecond
      const ratio = rate('predict') / rate('hello')
      return { pipeline: model.pipeline, ratio, pass: ratio >= targetRatio }
    })

    console.log()
    console.log(
      table(
        ['model', 'server', 'requests/s', 'per run', 'p50', 'p99', 'errors', 'CPU/request', 'peak RSS'],
        results.map((r) => [
          r.pipeline,
          r.label,
          `${formatNumber(Math.round(r.requestsPerSecond))}/s`,
          r.runs.map((w) => formatNumber(Math.round(w.requests / (w.durationUs / 1e6)))).join(', '),
          ms(r.p50Ms * 1000),
          ms(r.p99Ms * 1000),
          r.errors,
          `${r.cpuMicrosPerRequest.toFixed(0)} µs`,
          kib(r.peakRssKiB),
        ]),
      ),
    )
    console.log()
    for (const { pipeline, ratio, pass } of ratios) {
      console.log(
        `  ${pipeline}: predict / hello-world throughput ${ratio.toFixed(2)}x (target >= ${targetRatio}x: ${pass ? 'ok' : 'MISSED'})`,
      )
    }
    console.log(
      `  requests/s and latencies are medians over the runs; errors are non-2xx answers and socket errors; ` +
        `CPU/request is the server's user + system time over the measured runs divided by their requests; ` +
        `load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after, on ${os.availableParallelism()} ` +
        `cores shared by wrk and the server`,
    )
    printBenchJson('serve', {
      runs,
      seconds,
      threads,
      connections,
      cores: os.availableParallelism(),
      loadAverage: { before: loadBefore, after: loadAfter },
      models,
      target: targetRatio,
      ratios,
      results,
    })
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
}
