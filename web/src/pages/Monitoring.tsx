import { useEffect, useMemo } from 'react'
import { enc, getJson } from '../api'
import { Chart, type Series } from '../components/Chart'
import { Badge, ErrorNotice, Facts, Loading, Section } from '../components/ui'
import { ago, count, metric, time } from '../format'
import { useResource } from '../hooks'
import { Link, paths } from '../router'
import type { Canary, MonitoringStatus, MonitorWindow, OnlineView, PipelineSummary, RuleEvent } from '../types'

/** How often the page reads again; the monitor itself measures a window every 30 s (`freshet up`). */
const refreshMs = 30_000
const monitorInterval = '30 s'

interface MonitoringData {
  status: MonitoringStatus
  online: OnlineView
  canary: Canary | null
  task: string
}

async function loadMonitoring(name: string, signal: AbortSignal): Promise<MonitoringData> {
  const status = await getJson<MonitoringStatus>(`/api/v1/monitoring/${enc(name)}`, signal)
  const [online, canaries] = await Promise.all([
    getJson<OnlineView>(`/api/v1/models/${enc(name)}/online?window=${enc(status.window)}`, signal),
    getJson<{ active: Canary | null }>(`/api/v1/models/${enc(name)}/canaries`, signal),
  ])
  return { status, online, canary: canaries.active, task: online.task }
}

/** Hours as the budgets are written: minutes, hours or days. */
function age(hours: number | null): string {
  if (hours === null || !Number.isFinite(hours)) return '–'
  if (hours < 1) return `${Math.round(hours * 60)} min`
  if (hours < 48) return `${hours.toFixed(1)} h`
  return `${(hours / 24).toFixed(1)} d`
}

const windowLabel = (w: MonitorWindow): string => `${time(w.start).slice(5, 16)}–${time(w.end).slice(11, 16)}`

/** Axis steps in seconds, so ticks fall on window starts (windows are aligned to the epoch). */
const windowIncrs = [60, 300, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800]

/** Window starts on the axis: the hour and minute, with the date at midnight (UTC). */
const formatTime = (seconds: number): string => {
  const iso = new Date(seconds * 1000).toISOString()
  return iso.slice(11, 16) === '00:00' ? iso.slice(5, 10) : iso.slice(11, 16)
}

function DriftChart({ status }: { status: MonitoringStatus }) {
  // Oldest first, for the x axis.
  const windows = useMemo(() => [...status.windows].reverse(), [status.windows])
  const features = useMemo(() => [...new Set(windows.flatMap((w) => Object.keys(w.features)))].sort(), [windows])
  const x = useMemo(() => windows.map((w) => Date.parse(w.start) / 1000), [windows])
  // Ticks no closer than one window apart.
  const incrs = useMemo(() => {
    const first = windows[0]
    const size = first === undefined ? 0 : (Date.parse(first.end) - Date.parse(first.start)) / 1000
    const steps = windowIncrs.filter((step) => step >= size)
    return steps.length === 0 ? windowIncrs.slice(-1) : steps
  }, [windows])
  const series = useMemo<Series[]>(
    () => [
      ...features.map((f) => ({ label: f, values: windows.map((w) => w.features[f]?.distance ?? null) })),
      { label: 'prediction drift', values: windows.map((w) => w.predictionDrift), color: '#0f172a' },
    ],
    [features, windows],
  )
  const measured = windows.filter((w) => w.drift !== null || w.predictionDrift !== null)
  if (measured.length === 0) {
    const note = status.windows.find((w) => w.note !== null)?.note
    return (
      <div className="notice notice-warn" role="status">
        <strong>No drift measured yet</strong>
        <p>
          {status.windows.length === 0
            ? `No monitoring windows yet: serve predictions with the production model, and the monitor of freshet up computes a window every ${monitorInterval}.`
            : `No window holds predictions of the production model yet: serve predictions, and the monitor of freshet up measures the current ${status.window} window every ${monitorInterval}.`}
        </p>
        {note === undefined || note === null ? null : <p className="muted">The monitor says: {note}.</p>}
      </div>
    )
  }
  const latest = measured.at(-1) as MonitorWindow
  const summary = `Drift per ${status.window} window, ${measured.length} window(s) measured. Latest window ${windowLabel(latest)}: ${features
    .map((f) => `${f} ${metric(latest.features[f]?.distance ?? null, 3)}`)
    .join(', ')}, prediction drift ${metric(latest.predictionDrift, 3)}.`
  return (
    <>
      <Chart title={`Drift of each feature and of the predictions, per ${status.window} window (0 = as in training)`} summary={summary} x={x} xLabel="window start (UTC)" series={series} formatX={formatTime} xIncrs={incrs} />
      <h3>Latest measured window: {windowLabel(latest)} UTC</h3>
      <p className="muted">
        v{latest.version ?? '–'} served {count(latest.rows)} prediction(s){latest.sampled ? ' (the latest were sampled)' : ''}. Numeric features: Jensen–Shannon distance on the training quantile bins; categorical:
        largest change of a category’s share.
      </p>
      <div className="table-wrap">
        <table aria-label="Drift per feature in the latest window">
          <thead>
            <tr>
              <th scope="col">Feature</th>
              <th scope="col">Kind</th>
              <th scope="col" className="num">Drift</th>
              <th scope="col" className="num">With a value</th>
              <th scope="col" className="num">Missing</th>
            </tr>
          </thead>
          <tbody>
            {features.map((f) => {
              const d = latest.features[f]
              return (
                <tr key={f}>
                  <th scope="row">{f}</th>
                  <td>{d?.kind ?? '–'}</td>
                  <td className="num">{metric(d?.distance ?? null, 3)}</td>
                  <td className="num">{count(d?.present)}</td>
                  <td className="num">{count(d?.missing)}</td>
                </tr>
              )
            })}
            <tr>
              <th scope="row">predictions</th>
              <td>score</td>
              <td className="num">{metric(latest.predictionDrift, 3)}</td>
              <td className="num">{count(latest.rows)}</td>
              <td className="num">–</td>
            </tr>
          </tbody>
        </table>
      </div>
    </>
  )
}

const fixed = (value: number | null): string => (value === null || !Number.isFinite(value) ? '–' : value.toFixed(3))

const metricNames = (task: string): string[] => (task === 'binary' ? ['auc', 'logloss', 'accuracy'] : ['rmse', 'mae'])

function OnlineQuality({ data }: { data: MonitoringData }) {
  const { online, task } = data
  if (online.versions.length === 0)
    return (
      <p className="muted">
        No predictions in the last {online.window}: serve predictions with <code>POST /v1/models/{data.status.pipeline}:predict</code>, then send their labels with{' '}
        <code>:feedback</code> to measure quality.
      </p>
    )
  const names = metricNames(task)
  const labelled = online.versions.some((v) => v.labelled > 0)
  return (
    <>
      <p className="muted">
        Last {online.window}, from {time(online.since)} to {time(online.until)} UTC.{' '}
        {labelled ? 'Quality is measured on the predictions whose labels came back as feedback.' : 'No labels came back yet: send them with :feedback to measure quality.'}
      </p>
      <div className="table-wrap">
        <table aria-label="Online quality per version">
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col" className="num">Served</th>
              <th scope="col" className="num">Labelled</th>
              {names.map((n) => (
                <th scope="col" className="num" key={n}>
                  {n}
                </th>
              ))}
              <th scope="col" className="num">Error rate</th>
            </tr>
          </thead>
          <tbody>
            {online.versions.map((v) => (
              <tr key={v.version}>
                <th scope="row">
                  <Link to={paths.models(data.status.pipeline)}>v{v.version}</Link>
                  {v.version === online.production ? <Badge value="production" /> : null}
                  {v.version === data.canary?.version ? <Badge value="running" label="canary" /> : null}
                </th>
                <td className="num">{count(v.served)}</td>
                <td className="num">
                  {count(v.labelled)}
                  {v.sampled ? <span className="sub"> (latest sampled)</span> : null}
                </td>
                {names.map((n) => (
                  <td className="num" key={n}>
                    {fixed(v.metrics[n] ?? null)}
                  </td>
                ))}
                <td className="num">{v.errorRate === null ? '–' : `${(v.errorRate * 100).toFixed(1)}% of ${count(v.requests)} request(s)`}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  )
}

function budgetBadge(over: boolean | null, budget: string | null) {
  if (budget === null) return <Badge value="quiet" label="no budget" />
  if (over === null) return <Badge value="quiet" label="not measured" />
  return over ? <Badge value="failed" label="over budget" /> : <Badge value="passed" label="within budget" />
}

function StalenessTable({ status }: { status: MonitoringStatus }) {
  const s = status.staleness
  if (s.version === null) return <p className="muted">No production model: deploy a version to measure how old its knowledge is.</p>
  return (
    <>
      <div className="table-wrap">
        <table aria-label="Staleness against budgets">
          <thead>
            <tr>
              <th scope="col">Measure</th>
              <th scope="col">Since</th>
              <th scope="col" className="num">Age</th>
              <th scope="col" className="num">Budget</th>
              <th scope="col">State</th>
            </tr>
          </thead>
          <tbody>
            <tr>
              <th scope="row">Newest training data of v{s.version}</th>
              <td>{time(s.newestData)}</td>
              <td className="num">{age(s.dataHours)}</td>
              <td className="num">{s.dataBudget ?? '–'}</td>
              <td>{budgetBadge(s.dataOverBudget, s.dataBudget)}</td>
            </tr>
            <tr>
              <th scope="row">Last production deploy</th>
              <td>{time(s.lastDeploy)}</td>
              <td className="num">{age(s.deployHours)}</td>
              <td className="num">{s.deployBudget ?? '–'}</td>
              <td>{budgetBadge(s.deployOverBudget, s.deployBudget)}</td>
            </tr>
          </tbody>
        </table>
      </div>
      {s.dataBudget === null && s.deployBudget === null ? (
        <p className="muted">
          No budgets set: add <code>monitoring.staleness.data</code> and <code>.deploy</code> (e.g. <code>2d</code>) to the pipeline’s configuration.
        </p>
      ) : null}
    </>
  )
}

function CanaryView({ canary, pipeline }: { canary: Canary | null; pipeline: string }) {
  if (canary === null)
    return (
      <p className="muted">
        No canary is running: start one with <code>freshet deploy {pipeline} &lt;version&gt; --canary 10 --reason …</code> to send a share of the traffic to a new version.
      </p>
    )
  return (
    <Facts
      items={[
        ['Version', <Link to={paths.models(pipeline)}>v{canary.version}</Link>],
        ['Against', `v${canary.baselineVersion}`],
        ['Traffic', `${canary.percent}%`],
        ['Bakes until', <span title={`${time(canary.bakeUntil)} UTC`}>{time(canary.bakeUntil)}</span>],
        ['Started', <span title={time(canary.startedAt)}>{`${ago(canary.startedAt)} by ${canary.actor}`}</span>],
        ...(canary.forced ? ([['Forced', 'yes: it failed its gate']] as [string, string][]) : []),
      ]}
    />
  )
}

const ruleTone: Record<string, [string, string]> = {
  ok: ['passed', 'ok'],
  pending: ['warning', 'pending'],
  firing: ['failed', 'firing'],
}

function valuesText(values: Record<string, unknown>): string {
  const parts = Object.entries(values)
    .filter(([k]) => k !== 'window')
    .map(([k, v]) => `${k} = ${typeof v === 'number' ? Number(v.toPrecision(4)) : v === null ? 'unknown' : JSON.stringify(v)}`)
  return parts.length === 0 ? '–' : parts.join(', ')
}

function Rules({ status }: { status: MonitoringStatus }) {
  if (status.rules.length === 0)
    return (
      <p className="muted">
        No monitor rules: add <code>monitors</code> to the pipeline’s configuration, e.g. <code>{'{ "name": "drift", "when": "drift > 0.2", "then": ["alert"] }'}</code>.
      </p>
    )
  return (
    <div className="table-wrap">
      <table aria-label="Monitor rules">
        <thead>
          <tr>
            <th scope="col">Rule</th>
            <th scope="col">Condition</th>
            <th scope="col">Then</th>
            <th scope="col">State</th>
            <th scope="col">Since</th>
            <th scope="col">Values</th>
          </tr>
        </thead>
        <tbody>
          {status.rules.map((rule) => {
            const [tone, label] = ruleTone[rule.state] ?? ['quiet', rule.state]
            return (
              <tr key={rule.name}>
                <th scope="row">{rule.name}</th>
                <td>
                  <code>{rule.when}</code>
                  {rule.for === '0s' || rule.for === '0ms' ? null : <span className="sub"> for {rule.for}</span>}
                </td>
                <td>{rule.then.join(', ')}</td>
                <td>
                  <Badge value={tone} label={label} />
                </td>
                <td title={time(rule.since)}>{rule.since === null ? '–' : ago(rule.since)}</td>
                <td className="sub">{valuesText(rule.values)}</td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}

function Transitions({ events }: { events: RuleEvent[] }) {
  if (events.length === 0) return <p className="muted">No rule has fired yet.</p>
  return (
    <div className="table-wrap">
      <table aria-label="Rule transitions">
        <thead>
          <tr>
            <th scope="col">When (UTC)</th>
            <th scope="col">Rule</th>
            <th scope="col">Transition</th>
            <th scope="col">Values</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e) => (
            <tr key={e.id}>
              <td title={ago(e.at)}>{time(e.at)}</td>
              <th scope="row">{e.rule}</th>
              <td>
                <Badge value={e.transition === 'firing' ? 'failed' : 'passed'} label={e.transition} />
              </td>
              <td className="sub">
                <code>{e.condition}</code>: {valuesText(e.values)}
              </td>
              <td className="sub">
                {e.actions.length === 0
                  ? '–'
                  : e.actions.map((a) => (
                      <span key={a.action} className="action">
                        {a.action}: {a.ok ? '' : 'failed, '}
                        {a.detail}
                      </span>
                    ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

export function Monitoring({ name }: { name: string }) {
  const { data, error, loading, reload } = useResource(`monitoring:${name}`, (signal) => loadMonitoring(name, signal))
  useEffect(() => {
    const timer = setInterval(reload, refreshMs)
    return () => clearInterval(timer)
  }, [reload])
  const firing = data?.status.rules.filter((r) => r.state === 'firing') ?? []
  return (
    <>
      <div className="page-head">
        <p className="crumbs">
          <Link to={paths.overview}>Overview</Link> / <Link to={paths.pipeline(name)}>{name}</Link> / monitoring
        </p>
        <h1>Monitoring of {name}</h1>
        {data === undefined ? null : (
          <Facts
            items={[
              ['Production', data.status.production === null ? 'none yet' : <Link to={paths.models(name)}>v{data.status.production}</Link>],
              ['Window', data.status.window],
              ['Rules read a window from', `${count(data.status.minRows)} predictions`],
              ['Rules firing', firing.length === 0 ? <Badge value="passed" label="none" /> : <Badge value="failed" label={firing.map((r) => r.name).join(', ')} />],
              ['Last measured', <span title={time(data.status.windows[0]?.computedAt)}>{ago(data.status.windows[0]?.computedAt ?? null)}</span>],
            ]}
          />
        )}
      </div>
      {error !== undefined ? <ErrorNotice error={error} title="Could not read the monitoring state" /> : null}
      {data === undefined && loading ? <Loading what="the monitoring state" /> : null}
      {data === undefined ? null : (
        <>
          <Section title="Drift over time">
            <DriftChart status={data.status} />
          </Section>
          <Section title="Online quality per version">
            <OnlineQuality data={data} />
          </Section>
          <Section title="Staleness">
            <StalenessTable status={data.status} />
          </Section>
          <Section title="Canary">
            <CanaryView canary={data.canary} pipeline={name} />
          </Section>
          <Section title="Monitor rules">
            <Rules status={data.status} />
          </Section>
          <Section title="Recent transitions">
            <Transitions events={data.status.events} />
          </Section>
        </>
      )}
    </>
  )
}

/** `/monitoring`: the pipelines, each linking to its monitoring page. */
export function MonitoringIndex() {
  const { data, error, loading } = useResource('pipelines', (signal) => getJson<{ pipelines: PipelineSummary[] }>('/api/v1/pipelines', signal))
  return (
    <>
      <div className="page-head">
        <p className="crumbs">
          <Link to={paths.overview}>Overview</Link> / monitoring
        </p>
        <h1>Monitoring</h1>
        <p className="muted">Drift, online quality, staleness and alerts of each pipeline’s production model.</p>
      </div>
      {error !== undefined ? <ErrorNotice error={error} title="Could not read the pipelines" /> : null}
      {data === undefined && loading ? <Loading what="the pipelines" /> : null}
      {data === undefined ? null : (
        <Section title="Pipelines">
          {data.pipelines.length === 0 ? (
            <p className="muted">No pipelines: declare one in freshet.config.json.</p>
          ) : (
            <ul className="link-list">
              {data.pipelines.map((p) => (
                <li key={p.name}>
                  <Link to={paths.monitoring(p.name)}>{p.name}</Link>{' '}
                  <span className="sub">{p.production === null ? 'no production model yet: nothing to monitor' : `production v${p.production}`}</span>
                </li>
              ))}
            </ul>
          )}
        </Section>
      )}
    </>
  )
}
