import { spawn } from 'node:child_process'
import { FreshetError } from '../../core/errors.js'

export interface CommandOptions {
  argv: readonly string[]
  cwd: string
  /** Added to the environment this process runs with. */
  env: Record<string, string>
  timeoutMs: number
  signal?: AbortSignal
  /** Each chunk the command writes; by default it goes to this process's own stdout and stderr (the run log). */
  onOutput?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void
}

const kill = (pid: number | undefined): void => {
  if (pid === undefined) return
  try {
    // The whole group: a wrapper script's own children go too.
    process.kill(-pid, 'SIGKILL')
  } catch {
    // already gone
  }
}

/**
 * Runs a configured command: `argv[0]` with the rest as arguments, never through a shell, in its own process group,
 * killed (with its children) when it outlives `timeoutMs` or `signal` aborts.
 * @throws FreshetError `TRAINING_FAILED` when it cannot start, exits non-zero (the end of its stderr included) or
 * times out; `ABORTED` when `signal` aborts.
 */
export async function runCommand(options: CommandOptions): Promise<void> {
  const [program, ...args] = options.argv
  if (program === undefined) throw new FreshetError('CONFIG_INVALID', 'the command trainer needs argv: a non-empty array of strings')
  const aborted = (): boolean => options.signal?.aborted === true
  if (aborted()) throw new FreshetError('ABORTED', `${program} was not started: training was cancelled`)
  const child = spawn(program, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true, shell: false })
  const onOutput = options.onOutput ?? ((stream, chunk) => (stream === 'stdout' ? process.stdout : process.stderr).write(chunk))
  let tail = ''
  child.stdout.on('data', (chunk: Buffer) => onOutput('stdout', chunk))
  child.stderr.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-4096)
    onOutput('stderr', chunk)
  })
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    kill(child.pid)
  }, options.timeoutMs)
  const onAbort = () => kill(child.pid)
  options.signal?.addEventListener('abort', onAbort, { once: true })
  // In the trainer's child process: when the worker that forked it dies, the command must not outlive it.
  const watchParent = process.connected === true
  if (watchParent) process.once('disconnect', onAbort)
  try {
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once('error', reject)
      child.once('close', (code, signal) => resolve({ code, signal }))
    }).catch((error: unknown) => {
      const code = (error as NodeJS.ErrnoException).code
      throw new FreshetError('TRAINING_FAILED', `the command trainer could not start ${JSON.stringify(program)}: ${code === 'ENOENT' ? 'no such program (on PATH or relative to the workspace)' : error instanceof Error ? error.message : String(error)}`, {
        hint: 'check trainer.argv[0] in freshet.config.ts; it runs without a shell',
        cause: error,
      })
    })
    if (aborted()) throw new FreshetError('ABORTED', `${program} was killed: training was cancelled`)
    if (timedOut) {
      throw new FreshetError('TRAINING_FAILED', `${program} ran longer than its time limit of ${options.timeoutMs / 1000} s and was killed`, { hint: 'raise trainer.timeout, or train on less data' })
    }
    if (exit.code !== 0) {
      const how = exit.signal !== null ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`
      // Without blank lines and native backtraces (dmlc's "[bt] (3) ..."), which bury the reason.
      const lines = tail.split('\n').filter((l) => l.trim() !== '' && !/^\s*\[bt\]|^Stack trace:/.test(l))
      // Lines naming the error often come before pages of help text; keep the first few with the last lines.
      const errors = lines.slice(0, -4).filter((l) => /error|fail|unknown|invalid|not found|denied/i.test(l)).slice(0, 3)
      const shown = errors.length > 0 ? [...errors, '…', ...lines.slice(-4)] : lines.slice(-6)
      const last = shown.join('\n    ')
      throw new FreshetError('TRAINING_FAILED', `${program} ${how}${last === '' ? '' : `:\n    ${last}`}`, { hint: 'the command failed; its output is in the run log' })
    }
  } finally {
    clearTimeout(timer)
    options.signal?.removeEventListener('abort', onAbort)
    if (watchParent) process.off('disconnect', onAbort)
  }
}
