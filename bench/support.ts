import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'

/** What every worker prints as JSON on its last stdout line. */
export interface WorkerReport {
  /** The worker's peak resident set size, from {@link peakRssKiB}. */
  readonly maxRssKiB: number
}

/**
 * This process's peak resident set size in KiB. On Linux it is `VmHWM` of `/proc/self/status`, the peak of this
 * program's own memory: `process.resourceUsage().maxRSS` (getrusage) also counts the memory of the parent it was
 * forked from before exec, so a worker spawned by a 300 MiB benchmark process reports at least ~300 MiB (measured:
 * `node -e 0` reports 311 MiB under such a parent, VmHWM 40 MiB). Elsewhere it falls back to `maxRSS`.
 */
export function peakRssKiB(): number {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))
    if (match !== null) return Number(match[1])
  } catch {
    // Not Linux: no /proc.
  }
  return process.resourceUsage().maxRSS
}

/** Ends a worker: prints `report` plus the process's peak RSS as one JSON line, the last line of stdout. */
export function finishWorker(report: object): void {
  process.stdout.write(`\n${JSON.stringify({ ...report, maxRssKiB: peakRssKiB() })}\n`)
}

/**
 * Runs a compiled worker script in a fresh Node process, so that its peak RSS is its own, and returns the JSON
 * it printed last. The worker's stderr passes through.
 * @throws Error when the worker exits non-zero or prints no JSON.
 */
/** Runs a command, stderr passed through, and collects its stdout. */
export async function runCollect(command: string, args: readonly string[]): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  let stdout = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => {
    stdout += chunk
  })
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', resolve)
  })
  return { code, stdout }
}

export async function runWorker<T extends WorkerReport>(script: string, args: readonly string[]): Promise<T> {
  const { code, stdout } = await runCollect(process.execPath, [script, ...args])
  const last = stdout.trimEnd().split('\n').at(-1) ?? ''
  if (code !== 0) throw new Error(`worker ${args.join(' ')} exited with code ${code}: ${stdout.slice(-2000)}`)
  try {
    return JSON.parse(last) as T
  } catch {
    throw new Error(
      `worker ${args.join(' ')} printed no JSON result; its output ended with: ${last.slice(-500)}`,
    )
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? Number.NaN)
    : ((sorted[mid - 1] ?? Number.NaN) + (sorted[mid] ?? Number.NaN)) / 2
}

/** Seconds since `start` (a `performance.now()` reading). */
export function secondsSince(start: number): number {
  return (performance.now() - start) / 1000
}

/** Prints the line tools parse: `BENCH_JSON {"bench": name, ...}`. */
export function printBenchJson(bench: string, data: object): void {
  console.log(`BENCH_JSON ${JSON.stringify({ bench, ...data })}`)
}
