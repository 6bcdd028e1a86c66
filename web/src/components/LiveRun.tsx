import { useMemo } from 'react'
import { count } from '../format'
import type { RunStream } from '../run-stream'
import { Badge } from './ui'
import { Chart } from './Chart'

const stepOrder = ['resolve-data', 'train', 'evaluate', 'register', 'deploy']
const finishedStep = new Set(['succeeded', 'failed', 'skipped', 'cancelled'])

/** Overall progress 0–100: finished steps, plus the training step's share as the trainer reports it. */
export function overallPercent(stream: RunStream): number {
  if (stream.statistics !== null) return 100
  let done = 0
  for (const name of stepOrder) {
    const status = stream.steps[name]?.status
    if (status !== undefined && finishedStep.has(status)) done += 1
    else if (name === 'train' && status === 'running') done += stream.progress.at(-1)?.fraction ?? 0
  }
  return Math.min(99, Math.round((done / stepOrder.length) * 100))
}

export function LossCurve({ stream }: { stream: RunStream }) {
  const x = useMemo(() => stream.progress.map((p) => p.examples), [stream.progress])
  const series = useMemo(() => [{ label: 'training loss', values: stream.progress.map((p) => p.loss) }], [stream.progress])
  const last = stream.progress.at(-1)
  if (last === undefined) return null
  if (stream.progress.length === 1) {
    return (
      <p>
        Training loss <strong>{last.loss.toFixed(4)}</strong> after {count(last.examples)} examples. The trainer reported progress once, so there is no curve to draw.
      </p>
    )
  }
  return (
    <Chart
      title="Training loss"
      summary={`Training loss over ${count(last.examples)} examples, from ${stream.progress[0]?.loss.toFixed(4)} to ${last.loss.toFixed(4)}`}
      x={x}
      xLabel="examples seen"
      series={series}
      height={200}
    />
  )
}

/** A run as it happens: overall progress, the step it is in, and the steps' states. */
export function RunProgressView({ stream }: { stream: RunStream }) {
  const percent = overallPercent(stream)
  const last = stream.progress.at(-1)
  const running = stepOrder.find((n) => stream.steps[n]?.status === 'running')
  const label =
    stream.statistics !== null
      ? `Run ${stream.statistics.state}`
      : stream.state === null || stream.state === 'queued'
        ? 'Queued: waiting for a worker'
        : running === undefined
          ? (stream.message ?? 'Running')
          : `Step ${stepOrder.indexOf(running) + 1} of ${stepOrder.length}: ${running}`
  return (
    <div className="live-run">
      <div className="progress-line">
        <span id="run-progress-label">{label}</span>
        <span className="num">{percent}%</span>
      </div>
      <div className="progress" role="progressbar" aria-labelledby="run-progress-label" aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent}>
        <span style={{ width: `${percent}%` }} />
      </div>
      <p className="muted" aria-live="polite">
        {running === 'train' && last !== undefined
          ? `${count(last.examples)} of ${count(last.total)} examples${last.epochs === null ? '' : `, epoch ${last.epoch} of ${last.epochs}`}, loss ${last.loss.toFixed(4)}${last.etaSeconds === null ? '' : `, about ${Math.ceil(last.etaSeconds)} s left`}`
          : (stream.phase ?? '')}
        {stream.connection === 'reconnecting' ? ' (connection lost, reconnecting…)' : ''}
      </p>
      <ol className="steps" aria-label="Steps">
        {stepOrder.map((name) => (
          <li key={name}>
            <span>{name}</span> <Badge value={stream.steps[name]?.status ?? 'pending'} />
          </li>
        ))}
      </ol>
      {stream.problem === null ? null : (
        <div className="notice notice-bad" role="alert">
          {stream.problem}
        </div>
      )}
    </div>
  )
}
