import type { RunEvent } from '../orchestration/run-types.js'
import type { TrainingEvent } from '../training/run-training.js'
import { formatNumber } from './table.js'

type ProgressView = { examples: number; total: number; epoch: number; loss: number; etaSeconds?: number | null }

export function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)}s`
  const minutes = Math.floor(seconds / 60)
  return minutes < 60 ? `${minutes}m${String(Math.round(seconds % 60)).padStart(2, '0')}s` : `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`
}

/** Shows training events: a redrawn bar on a terminal, one plain line per phase and every few seconds otherwise. */
export function trainingReporter(stream: NodeJS.WriteStream = process.stderr): { onEvent: (event: TrainingEvent) => void; progress: (event: ProgressView) => void; line: (text: string) => void; finish: () => void } {
  const tty = stream.isTTY
  let lastPlain = 0
  let drawn = false
  const clear = () => {
    if (drawn) stream.write('\r\u001b[2K')
    drawn = false
  }
  const line = (text: string) => {
    clear()
    stream.write(`${text}\n`)
  }
  const progress = (event: ProgressView) => {
    const fraction = Math.min(1, event.examples / Math.max(1, event.total))
    const eta = event.etaSeconds === undefined || event.etaSeconds === null || fraction >= 1 ? '' : `  ETA ${formatSeconds(event.etaSeconds)}`
    const text = `epoch ${event.epoch}  ${formatNumber(event.examples)} examples  loss ${event.loss.toFixed(4)}${eta}`
    if (tty) {
      const width = 30
      const filled = Math.round(fraction * width)
      stream.write(`\r\u001b[2K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%  ${text}`)
      drawn = true
    } else if (performance.now() - lastPlain > 2000 || event.examples % event.total === 0) {
      lastPlain = performance.now()
      stream.write(`progress  ${text}\n`)
    }
  }
  return {
    onEvent(event) {
      if (event.kind === 'phase') line(`${event.phase.padEnd(9)} ${event.message}`)
      else progress(event)
    },
    progress,
    line,
    finish: clear,
  }
}

/** Shows a run's events as `freshet train` always has, plus the run's own state changes and its trainer's log. */
export function runReporter(stream: NodeJS.WriteStream = process.stderr): { onEvent: (event: RunEvent) => void; finish: () => void } {
  const training = trainingReporter(stream)
  return {
    onEvent(event) {
      switch (event.type) {
        case 'phase':
          return training.line(`${event.phase.padEnd(9)} ${event.message}`)
        case 'progress':
          return training.progress(event)
        case 'state':
          return training.line(`run       ${event.message}`)
        case 'log':
          for (const { line } of event.lines) training.line(`trainer   ${line}`)
          return
        case 'step':
          if (event.step.status === 'failed') training.line(`${event.step.name.padEnd(9)} failed: ${event.step.error?.message ?? ''}`)
          return
      }
    },
    finish: training.finish,
  }
}
