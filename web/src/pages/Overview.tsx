import { enc, getJson } from '../api'
import { ago, count, defaultMetric, metric, time } from '../format'
import { useResource } from '../hooks'
import { Link, paths } from '../router'
import type { DatasetSummary, PipelineSummary, QuarantinedBatch, Run } from '../types'
import { Badge, ErrorNotice, Loading, Section } from '../components/ui'

interface OverviewData {
  pipelines: (PipelineSummary & { lastRun: Run | null })[]
  datasets: DatasetSummary[]
  quarantined: number
}

async function loadOverview(signal: AbortSignal): Promise<OverviewData> {
  const [{ pipelines }, { datasets }, { batches }] = await Promise.all([
    getJson<{ pipelines: PipelineSummary[] }>('/api/v1/pipelines', signal),
    getJson<{ datasets: DatasetSummary[] }>('/api/v1/datasets', signal),
    getJson<{ batches: QuarantinedBatch[] }>('/api/v1/quarantine', signal),
  ])
  const withRuns = await Promise.all(
    pipelines.map(async (p) => {
      const { runs } = await getJson<{ runs: Run[] }>(`/api/v1/pipelines/${enc(p.name)}/runs?limit=1`, signal)
      return { ...p, lastRun: runs[0] ?? null }
    }),
  )
  return { pipelines: withRuns, datasets, quarantined: batches.length }
}

function Headline({ p }: { p: PipelineSummary }) {
  if (p.metrics === null) return <span className="muted">no production model</span>
  const names = p.task === 'binary' ? ['auc', 'f1', 'logloss'] : [defaultMetric(p.task), 'mae']
  return (
    <span className="metrics-inline">
      {names
        .filter((n) => typeof p.metrics?.[n] === 'number')
        .map((n) => (
          <span key={n}>
            <abbr title={`${n} on the holdout rows`}>{n.toUpperCase()}</abbr> {metric(p.metrics?.[n], 3)}
          </span>
        ))}
    </span>
  )
}

export function Overview() {
  const { data, error, loading } = useResource('overview', loadOverview)
  return (
    <>
      <div className="page-head">
        <h1>Overview</h1>
        <p className="muted">Every pipeline of this workspace, what it serves and how fresh it is.</p>
      </div>
      {error !== undefined ? <ErrorNotice error={error} title="Could not read the workspace" /> : null}
      {data === undefined ? (
        loading ? <Loading what="pipelines" /> : null
      ) : (
        <>
          {data.quarantined > 0 ? (
            <div className="notice notice-warn" role="status">
              <strong>
                {data.quarantined} {data.quarantined === 1 ? 'batch waits' : 'batches wait'} in quarantine.
              </strong>{' '}
              They are kept aside and never trained on until someone releases them. <Link to={paths.data()}>Review the quarantine</Link>
            </div>
          ) : null}
          <Section title="Pipelines">
            {data.pipelines.length === 0 ? (
              <p className="muted">No pipelines are declared in freshet.config.ts.</p>
            ) : (
              <div className="table-wrap">
                <table aria-label="Pipelines">
                  <thead>
                    <tr>
                      <th scope="col">Pipeline</th>
                      <th scope="col">Mode</th>
                      <th scope="col">Production</th>
                      <th scope="col">Holdout quality</th>
                      <th scope="col">Trained</th>
                      <th scope="col">Last run</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.pipelines.map((p) => (
                      <tr key={p.name}>
                        <th scope="row">
                          <Link to={paths.pipeline(p.name)}>{p.name}</Link>
                          <div className="sub">
                            {p.task} on <Link to={paths.data(p.dataset)}>{p.dataset}</Link>
                          </div>
                        </th>
                        <td>
                          <Badge value={p.mode} />
                        </td>
                        <td>
                          {p.production === null ? (
                            <span className="muted">none yet</span>
                          ) : (
                            <Link to={paths.models(p.name)}>v{p.production}</Link>
                          )}
                          <div className="sub">{count(p.versions)} {p.versions === 1 ? 'version' : 'versions'}</div>
                        </td>
                        <td>
                          <Headline p={p} />
                        </td>
                        <td title={time(p.lastTrainedAt)}>{ago(p.lastTrainedAt)}</td>
                        <td>
                          {p.lastRun === null ? (
                            <span className="muted">no runs</span>
                          ) : (
                            <>
                              <Link to={paths.run(p.lastRun.id)}>
                                <Badge value={p.lastRun.state} />
                              </Link>
                              <div className="sub" title={time(p.lastRun.createdAt)}>
                                {p.lastRun.trigger.type} · {ago(p.lastRun.createdAt)}
                              </div>
                            </>
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </Section>
          <Section title="Datasets">
            {data.datasets.length === 0 ? (
              <p className="muted">No datasets are declared in freshet.config.ts.</p>
            ) : (
              <div className="table-wrap">
                <table aria-label="Datasets">
                  <thead>
                    <tr>
                      <th scope="col">Dataset</th>
                      <th scope="col" className="num">
                        Rows for training
                      </th>
                      <th scope="col" className="num">
                        Batches
                      </th>
                      <th scope="col">States</th>
                      <th scope="col">Last ingest</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.datasets.map((d) => (
                      <tr key={d.name}>
                        <th scope="row">
                          <Link to={paths.data(d.name)}>{d.name}</Link>
                        </th>
                        <td className="num">{count(d.rows)}</td>
                        <td className="num">{count(d.batches)}</td>
                        <td>
                          {Object.entries(d.states).length === 0 ? (
                            <span className="muted">no batches</span>
                          ) : (
                            Object.entries(d.states).map(([state, n]) => <Badge key={state} value={state} label={`${n} ${state}`} />)
                          )}
                        </td>
                        <td title={time(d.lastIngestedAt)}>{ago(d.lastIngestedAt)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </Section>
        </>
      )}
    </>
  )
}
