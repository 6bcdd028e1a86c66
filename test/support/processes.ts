import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { cliPath } from './cli.js'

/** A `freshet` process started in its own process group (so its trainer children can be found and cleaned up). */
export interface CliProcess {
  readonly child: ChildProcess
  readonly pid: number
  /** stdout and stderr so far, interleaved. */
  output(): string
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  hasExited(): boolean
  /** Resolves with the first match of `pattern` in the output; rejects after `timeoutMs` or if the process exits first. */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>
  signal(signal: NodeJS.Signals): void
  /** Whether any process of its group (the command and its trainer children) is still alive. */
  groupAlive(): boolean
  /** SIGKILLs the whole group (cleanup). */
  killGroup(): void
}

export function startCli(args: string[], options: { cwd: string; env?: Record<string, string> }): CliProcess {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` (npm test does it)`)
  const child = spawn(process.execPath, [cliPath, ...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  const pid = child.pid
  if (pid === undefined) throw new Error(`could not start freshet ${args.join(' ')}`)
  let text = ''
  let exited = false
  const listeners = new Set<() => void>()
  const onData = (chunk: Buffer) => {
    text += chunk.toString()
    for (const listener of listeners) listener()
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => {
      exited = true
      for (const listener of listeners) listener()
      resolve({ code, signal })
    })
  })
  const groupAlive = () => {
    try {
      process.kill(-pid, 0)
      return true
    } catch {
      return false
    }
  }
  return {
    child,
    pid,
    output: () => text,
    exited: done,
    hasExited: () => exited,
    waitForOutput(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = text.match(pattern)
          if (match !== null) finish(() => resolve(match))
          else if (exited) finish(() => reject(new Error(`freshet ${args.join(' ')} exited before printing ${String(pattern)}:\n${text}`)))
        }
        const timer = setTimeout(
          () => finish(() => reject(new Error(`no ${String(pattern)} from freshet ${args.join(' ')} within ${timeoutMs} ms:\n${text}`))),
          timeoutMs,
        )
        const finish = (then: () => void) => {
          clearTimeout(timer)
          listeners.delete(check)
          then()
        }
        listeners.add(check)
        check()
      })
    },
    signal(signal) {
      if (!exited) process.kill(pid, signal)
    },
    groupAlive,
    killGroup() {
      try {
        process.kill(-pid, 'SIGKILL')
      } catch {
        // already gone
      }
    },
  }
}

/** Polls `check` every `intervalMs` until it returns a value other than undefined/false; throws after `timeoutMs`. */
export async function pollUntil<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, intervalMs = 50): Promise<T> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
