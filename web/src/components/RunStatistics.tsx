import { count, duration, lowerIsBetter, metric, signed, time } from '../format'
import { Link, paths } from '../router'
import type { GateVerdict, MetricComparison, RunStatistics } from '../types'
import { Badge, Facts } from './ui'

/** Shown under "more metrics": useful when digging, noise at a glance. */
const secondaryMetrics = new Set(['bestF1', 'bestF1Threshold', 'meanPredicted', 'observedRate', 'count'])

function MetricsTable({ metrics, previousVersion, label }: { metrics: MetricComparison[]; previousVersion: number | null; label: string }) {
  return (
    <div className="table-wrap">
      <table aria-label={label}>
        <thead>
          <tr>
            <th scope="col">Metric</th>
            <th scope="col" className="num">
              This run
            </th>
            <th scope="col" className="num">
              {previousVersion === null ? 'Champion' : `Champion v${previousVersion}`}
            </th>
            <th scope="col" className="num">
              Change
            </th>
          </tr>
        </thead>
        <tbody>
          {metrics.map((m) => {
            const better = m.delta === null || m.delta === 0 ? null : (m.delta < 0) === lowerIsBetter(m.name)
            return (
              <tr key={m.name}>
                <th scope="row">{m.name}</th>
                <td className="num">{metric(m.value)}</td>
                <td className="num">{m.previous === null ? '–' : metric(m.previous)}</td>
                <td className={`num ${better === null ? '' : better ? 'better' : 'worse'}`}>
                  {signed(m.delta)}
                  {better === null ? null : <span className="sr-only">{better ? ' (better)' : ' (worse)'}</span>}
                </td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}

function Gate({ gate }: { gate: GateVerdict | null }) {
  if (gate === null) return <p className="muted">The run did not reach its gate.</p>
  const lower = gate.metric !== null && lowerIsBetter(gate.metric)
  return (
    <div className={`verdict ${gate.passed ? 'verdict-good' : 'verdict-bad'}`}>
      <p>
        <Badge value={gate.passed ? 'passed' : 'failed'} label={gate.passed ? 'Gate passed' : 'Gate failed'} />{' '}
        {gate.metric === null ? (
          'No gate is configured.'
        ) : (
          <>
            {gate.metric} {metric(gate.value)}
            {gate.min === null ? null : (
              <>
                {' '}
                (needs {lower ? '≤' : '≥'} {metric(gate.min)})
              </>
            )}
            {gate.baseline === undefined || gate.baseline === null ? null : gate.baseline.value === null ? (
              <> · production v{gate.baseline.version} could not be compared</>
            ) : (
              <>
                {' '}
                · production v{gate.baseline.version} {metric(gate.baseline.value)} on the same rows
                {gate.regression === undefined || gate.regression === null ? null : (
                  <>
                    , regression {signed(gate.regression)}
                    {gate.allowedRegression === undefined || gate.allowedRegression === null ? null : <> (allowed {metric(gate.allowedRegression)})</>}
                  </>
                )}
              </>
            )}
          </>
        )}
      </p>
      {gate.reasons.length > 0 ? (
        <ul aria-label="Why the gate failed">
          {gate.reasons.map((r) => (
            <li key={r}>{r}</li>
          ))}
        </ul>
      ) : null}
      {gate.metric !== null && (gate.notes ?? []).length > 0 ? (
        <ul className="muted" aria-label="Gate notes">
          {(gate.notes ?? []).map((n) => (
            <li key={n}>{n}</li>
          ))}
        </ul>
      ) : null}
    </div>
  )
}

/** What a finished run did: the data it used, its metrics against the champion, the gate's verdict, timings. */
export function RunStatisticsView({ statistics: s }: { statistics: RunStatistics }) {
  const primary = s.metrics.filter((m) => !secondaryMetrics.has(m.name))
  const secondary = s.metrics.filter((m) => secondaryMetrics.has(m.name))
  const slowest = Math.max(1, ...s.steps.map((step) => step.durationMs ?? 0))
  const rows = s.data.rows
  return (
    <div className="statistics" aria-label="Run statistics">
      <div className="grid-2">
        <div>
          <h3>Outcome</h3>
          <Facts
            items={[
              ['State', <Badge key="state" value={s.state} />],
              [
                'Model',
                s.model === null ? (
                  <span className="muted">none registered</span>
                ) : (
                  <>
                    <Link to={paths.models(s.pipeline)}>v{s.model.version}</Link> <Badge value={s.model.status} />
                  </>
                ),
              ],
              ['Deployed', s.deployed ? 'yes, now in production' : 'no'],
              ['Duration', duration(s.durationMs)],
              ['Trigger', `${s.trigger.type} by ${s.trigger.actor}${s.trigger.reason === null ? '' : ` — ${s.trigger.reason}`}`],
            ]}
          />
          {s.error === null ? null : (
            <div className="notice notice-bad" role="alert">
              <strong>
                {s.error.code}
                {s.error.step === undefined ? '' : ` in ${s.error.step}`}
              </strong>
              <p>{s.error.message}</p>
              {s.error.hint === undefined ? null : <p className="muted">{s.error.hint}</p>}
            </div>
          )}
        </div>
        <div>
          <h3>Data used</h3>
          <Facts
            items={[
              ['Dataset', s.data.dataset === null ? '–' : <Link to={paths.data(s.data.dataset)}>{s.data.dataset}</Link>],
              ['Batches', count(s.data.batches)],
              ['Training rows', rows === null ? '–' : count(rows.train)],
              ['Holdout rows', rows === null ? '–' : count(rows.holdout)],
              ...(rows !== null && rows.unlabelled > 0 ? ([['Unlabelled rows', count(rows.unlabelled)]] as [string, string][]) : []),
              ['Event times', s.data.eventTimes === null ? '–' : `${time(s.data.eventTimes.min)} → ${time(s.data.eventTimes.max)}`],
              ...(s.data.eventTimes?.holdoutFrom ? ([['Holdout from', time(s.data.eventTimes.holdoutFrom)]] as [string, string][]) : []),
            ]}
          />
        </div>
      </div>
      <h3>Gate</h3>
      <Gate gate={s.gate} />
      {s.metrics.length > 0 ? (
        <>
          <h3>Metrics on the holdout</h3>
          <MetricsTable metrics={primary} previousVersion={s.previousVersion} label="Metrics against the champion" />
          {secondary.length === 0 ? null : (
            <details>
              <summary>More metrics</summary>
              <MetricsTable metrics={secondary} previousVersion={s.previousVersion} label="More metrics against the champion" />
            </details>
          )}
        </>
      ) : null}
      <h3>Step timings</h3>
      <table aria-label="Step timings" className="timings">
        <tbody>
          {s.steps.map((step) => (
            <tr key={step.name}>
              <th scope="row">{step.name}</th>
              <td>
                <Badge value={step.status} />
              </td>
              <td className="num">{duration(step.durationMs)}</td>
              <td className="bar-cell" aria-hidden="true">
                <span className="bar" style={{ width: `${((step.durationMs ?? 0) / slowest) * 100}%` }} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}
