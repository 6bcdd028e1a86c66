import type { Runs } from './runs.js'
import { isFinished, type Run, type RunEvent } from './run-types.js'

export interface FollowOptions {
  /** Called once per event, in order. */
  readonly onEvent: (event: RunEvent) => void
  /** Start after this event number (an SSE client's `Last-Event-ID`); 0 replays the whole history. */
  readonly afterSeq?: number
  /** How often the database is read for events of workers in other processes (default 1 s). */
  readonly pollMs?: number
  readonly signal?: AbortSignal
}

/**
 * Follows a run until it finishes: its stored history first, then new events as they come, from the in-process
 * bus at once (a worker in this process) and from the database every `pollMs` (a worker elsewhere). Events are
 * delivered once each, in order.
 * @returns the finished run, or undefined when `signal` aborted first
 * @throws FreshetError `RUN_NOT_FOUND`
 */
export async function followRun(runs: Runs, runId: string, options: FollowOptions): Promise<Run | undefined> {
  const aborted = (): boolean => options.signal?.aborted === true
  let last = options.afterSeq ?? 0
  let buffered: RunEvent[] | undefined = []
  let wake: () => void = () => undefined
  const deliver = (event: RunEvent) => {
    if (event.seq <= last) return
    last = event.seq
    options.onEvent(event)
    if (event.type === 'state' && isFinished(event.state)) wake()
  }
  // Subscribe before reading the history, so nothing published in between is missed.
  const unsubscribe = runs.bus.subscribe(runId, (event) => {
    if (buffered === undefined) deliver(event)
    else buffered.push(event)
  })
  const drain = async () => {
    for (;;) {
      const stored = await runs.events(runId, { afterSeq: last })
      for (const event of stored) deliver(event)
      if (stored.length < 1000) return
    }
  }
  try {
    for (;;) {
      const run = await runs.get(runId)
      await drain()
      if (buffered !== undefined) {
        const pending: RunEvent[] = buffered
        buffered = undefined
        for (const event of pending) deliver(event)
      }
      if (isFinished(run.state)) return run
      if (aborted()) return undefined
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, options.pollMs ?? 1000)
        options.signal?.addEventListener('abort', done, { once: true })
        wake = done
        function done() {
          clearTimeout(timer)
          options.signal?.removeEventListener('abort', done)
          wake = () => undefined
          resolve()
        }
      })
      if (aborted()) return undefined
    }
  } finally {
    unsubscribe()
  }
}
