import type { TrainingEvent } from '../training/run-training.js'
import { formatNumber } from './table.js'

/** Shows training events: a redrawn bar on a terminal, one plain line per phase and every few seconds otherwise. */
export function trainingReporter(stream: NodeJS.WriteStream = process.stderr): { onEvent: (event: TrainingEvent) => void; finish: () => void } {
  const tty = stream.isTTY
  let lastPlain = 0
  let drawn = false
  const clear = () => {
    if (drawn) stream.write('\r\u001b[2K')
    drawn = false
  }
  return {
    onEvent(event) {
      if (event.kind === 'phase') {
        clear()
        stream.write(`${event.phase.padEnd(9)} ${event.message}\n`)
        return
      }
      const fraction = Math.min(1, event.examples / Math.max(1, event.total))
      const text = `epoch ${event.epoch}  ${formatNumber(event.examples)} examples  loss ${event.loss.toFixed(4)}`
      if (tty) {
        const width = 30
        const filled = Math.round(fraction * width)
        stream.write(`\r\u001b[2K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%  ${text}`)
        drawn = true
      } else if (performance.now() - lastPlain > 2000 || event.examples % event.total === 0) {
        lastPlain = performance.now()
        stream.write(`progress  ${text}\n`)
      }
    },
    finish: clear,
  }
}
