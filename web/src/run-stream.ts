import { useEffect, useState } from 'react'
import { enc } from './api'
import type { RunEvent, RunProgress, RunState, RunStatistics, RunStep } from './types'

export interface RunStream {
  state: RunState | null
  message: string | null
  phase: string | null
  steps: Record<string, RunStep>
  /** Every progress report, in order: the loss curve. */
  progress: (RunProgress & { at: string })[]
  logs: { stream: 'stdout' | 'stderr'; line: string }[]
  /** Sent once the run finished; the stream ends with it. */
  statistics: RunStatistics | null
  problem: string | null
  connection: 'connecting' | 'open' | 'reconnecting' | 'closed'
}

const empty: RunStream = { state: null, message: null, phase: null, steps: {}, progress: [], logs: [], statistics: null, problem: null, connection: 'connecting' }
const maxLogLines = 2000
const maxProgress = 5000

type Body<T extends RunEvent['type']> = Extract<RunEvent, { type: T }>

/**
 * Follows a run's Server-Sent Events (GET /api/v1/runs/{id}/events, a read: no token). A finished run's stream
 * replays its stored events and ends with `done`; the browser resumes a dropped stream from the last event id.
 */
export function useRunStream(id: string | null): RunStream {
  const [stream, setStream] = useState<RunStream>(empty)
  useEffect(() => {
    setStream(empty)
    if (id === null) return
    const source = new EventSource(`/api/v1/runs/${enc(id)}/events`)
    const on = <T extends RunEvent['type'] | 'done'>(type: T, apply: (data: T extends RunEvent['type'] ? Body<T> : RunStatistics, s: RunStream) => RunStream) => {
      source.addEventListener(type, (event) => {
        const data = JSON.parse((event as MessageEvent<string>).data) as T extends RunEvent['type'] ? Body<T> : RunStatistics
        setStream((s) => apply(data, s))
      })
    }
    source.addEventListener('open', () => setStream((s) => ({ ...s, connection: 'open' })))
    on('state', (e, s) => ({ ...s, state: e.state, message: e.message }))
    on('step', (e, s) => ({ ...s, steps: { ...s.steps, [e.step.name]: e.step } }))
    on('phase', (e, s) => ({ ...s, phase: e.message }))
    on('progress', (e, s) => ({ ...s, progress: [...s.progress.slice(-(maxProgress - 1)), e] }))
    on('log', (e, s) => ({ ...s, logs: [...s.logs, ...e.lines].slice(-maxLogLines) }))
    on('done', (statistics, s) => {
      source.close()
      return { ...s, statistics, state: statistics.state, connection: 'closed' }
    })
    source.addEventListener('error', (event) => {
      if (event instanceof MessageEvent && typeof event.data === 'string') {
        // The server's own `error` event: the run could not be followed.
        source.close()
        const problem = JSON.parse(event.data) as { message?: string }
        setStream((s) => ({ ...s, problem: problem.message ?? 'the run could not be followed', connection: 'closed' }))
        return
      }
      setStream((s) => ({ ...s, connection: source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting' }))
    })
    return () => source.close()
  }, [id])
  return stream
}
