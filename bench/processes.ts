import { spawn } from 'node:child_process'
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { secondsSince } from './support.js'

/** What {@link runMeasured} observed of a peer's process. */
export interface Measured {
  /** From spawn to exit, measured here. */
  readonly wallSeconds: number
  /** Peak resident set size as `/usr/bin/time` reports it (`%M`, KiB). */
  readonly maxRssKiB: number
  readonly stdout: string
  /** Seconds after spawn when the process closed `watch.input` (it had finished reading its data). */
  readonly inputClosedSeconds: number | undefined
  /** Seconds after spawn when the process opened `watch.output` (it had finished training). */
  readonly outputOpenedSeconds: number | undefined
}

export interface MeasureOptions {
  /**
   * Files whose opening and closing split the process's time into phases, seen by polling `/proc/<pid>/fd` every
   * millisecond: liblinear-train reads its whole input, closes it, trains, then opens the model file to save.
   */
  readonly watch?: { readonly input: string; readonly output: string }
}

let runs = 0

/**
 * Runs a peer's command under `/usr/bin/time` (for its peak RSS) and returns what it printed and how long it took.
 * @throws Error when the command exits non-zero.
 */
export async function runMeasured(
  command: string,
  args: readonly string[],
  options: MeasureOptions = {},
): Promise<Measured> {
  const timeFile = path.join(os.tmpdir(), `freshet-bench-time-${process.pid}-${runs++}.txt`)
  const start = performance.now()
  const child = spawn('/usr/bin/time', ['-f', '%M', '-o', timeFile, command, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let stdout = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => {
    stdout += chunk
  })
  const watch = options.watch
  let pid: number | undefined
  let inputSeen = false
  let inputClosedSeconds: number | undefined
  let outputOpenedSeconds: number | undefined
  const poll = () => {
    if (watch === undefined || child.pid === undefined || outputOpenedSeconds !== undefined) return
    try {
      pid ??=
        Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(' ')[0]) ||
        undefined
      if (pid === undefined) return
      const open = new Set(readdirSync(`/proc/${pid}/fd`).map((fd) => safeReadlink(`/proc/${pid}/fd/${fd}`)))
      const now = secondsSince(start)
      if (open.has(watch.input)) inputSeen = true
      else if (inputSeen && inputClosedSeconds === undefined) inputClosedSeconds = now
      if (open.has(watch.output)) {
        outputOpenedSeconds = now
        inputClosedSeconds ??= now
      }
    } catch {
      // The process is starting or has exited between two reads.
    }
  }
  const timer = watch === undefined ? undefined : setInterval(poll, 1)
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject)
      child.on('close', resolve)
    })
    const wallSeconds = secondsSince(start)
    const timeReport = await readFile(timeFile, 'utf8').catch(() => '')
    if (code !== 0) {
      throw new Error(
        `${path.basename(command)} ${args.join(' ')} exited with code ${code}: ${timeReport.trim()}`,
      )
    }
    const maxRssKiB = Number(timeReport.trim().split('\n').at(-1))
    return { wallSeconds, maxRssKiB, stdout, inputClosedSeconds, outputOpenedSeconds }
  } finally {
    if (timer !== undefined) clearInterval(timer)
    await rm(timeFile, { force: true })
  }
}

function safeReadlink(link: string): string {
  try {
    return readlinkSync(link)
  } catch {
    return ''
  }
}
