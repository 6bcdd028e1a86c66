import { useEffect, useId, useMemo, useState } from 'react'
import { ApiError, enc, getJson, send } from '../api'
import { useAuth } from '../auth'
import { Chart } from '../components/Chart'
import { LossCurve, RunProgressView } from '../components/LiveRun'
import { RunStatisticsView } from '../components/RunStatistics'
import { Badge, ChangeButton, ErrorNotice, Facts, Loading, Section } from '../components/ui'
import { ago, defaultMetric, duration, metric, time } from '../format'
import { useResource } from '../hooks'
import { Link, paths } from '../router'
import { useRunStream } from '../run-stream'
import type { ModelsView, PipelineSummary, Run } from '../types'

interface PipelineData {
  summary: PipelineSummary
  runs: Run[]
  models: ModelsView
}

async function loadPipeline(name: string, signal: AbortSignal): Promise<PipelineData> {
  const [{ pipelines }, { runs }, models] = await Promise.all([
    getJson<{ pipelines: PipelineSummary[] }>('/api/v1/pipelines', signal),
    getJson<{ runs: Run[] }>(`/api/v1/pipelines/${enc(name)}/runs?limit=50`, signal),
    getJson<ModelsView>(`/api/v1/models/${enc(name)}/versions`, signal),
  ])
  const summary = pipelines.find((p) => p.name === name)
  if (summary === undefined) throw new ApiError(404, 'PIPELINE_NOT_FOUND', `There is no pipeline ${JSON.stringify(name)} in this workspace.`)
  return { summary, runs, models }
}

const versionLabel = (v: number): string => (Number.isInteger(v) ? `v${v}` : '')

const runDuration = (run: Run): number | null => (run.startedAt === null || run.finishedAt === null ? null : Date.parse(run.finishedAt) - Date.parse(run.startedAt))

function MetricChart({ data }: { data: PipelineData }) {
  const selectId = useId()
  const gated = data.runs.find((r) => r.outcome?.gate?.metric)?.outcome?.gate
  const names = useMemo(() => {
    const all = new Set<string>()
    for (const v of data.models.versions) for (const [k, value] of Object.entries(v.metrics)) if (typeof value === 'number' && k !== 'count') all.add(k)
    return [...all].sort()
  }, [data.models.versions])
  const [chosen, setChosen] = useState<string | null>(null)
  const name = chosen ?? gated?.metric ?? defaultMetric(data.summary.task)
  const versions = data.models.versions
  const x = useMemo(() => versions.map((v) => v.version), [versions])
  const series = useMemo(() => {
    const value = (v: (typeof versions)[number]) => (typeof v.metrics[name] === 'number' ? v.metrics[name] : null)
    const list = [
      { label: `${name}, passed the gate`, values: versions.map((v) => (v.status === 'registered' ? value(v) : null)) },
      { label: `${name}, failed the gate`, values: versions.map((v) => (v.status === 'rejected' ? value(v) : null)), color: '#b91c1c' },
    ]
    if (gated?.metric === name && gated.min !== null) list.push({ label: 'gate minimum', values: versions.map(() => gated.min), color: '#94a3b8' })
    return list
  }, [versions, name, gated])
  if (versions.length === 0) return <p className="muted">No versions yet: train one with the button above.</p>
  return (
    <>
      <div className="field-inline">
        <label htmlFor={selectId}>Metric</label>
        <select id={selectId} value={name} onChange={(e) => setChosen(e.target.value)}>
          {names.map((n) => (
            <option key={n} value={n}>
              {n}
              {n === gated?.metric ? ' (gate)' : ''}
            </option>
          ))}
        </select>
      </div>
      <Chart
        title={`${name} of each version on its holdout`}
        summary={`${name} per model version: ${versions.map((v) => `v${v.version} ${metric(v.metrics[name])}`).join(', ')}`}
        x={x}
        xLabel="version"
        series={series}
        formatX={versionLabel}
        integerX
      />
    </>
  )
}

function TrainNow({ pipeline, onFinished }: { pipeline: string; onFinished: () => void }) {
  const { token } = useAuth()
  const reasonId = useId()
  const [reason, setReason] = useState('')
  const [runId, setRunId] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<ApiError | undefined>()
  const stream = useRunStream(runId)
  const finished = stream.statistics !== null
  useEffect(() => {
    if (finished) onFinished()
  }, [finished, onFinished])
  const start = () => {
    setBusy(true)
    setError(undefined)
    send<Run>('POST', `/api/v1/pipelines/${enc(pipeline)}/runs`, token, { reason: reason.trim() === '' ? 'started from the dashboard' : reason.trim(), actor: 'dashboard' }).then(
      (run) => {
        setBusy(false)
        setRunId(run.id)
        onFinished()
      },
      (e: unknown) => {
        setBusy(false)
        setError(e instanceof ApiError ? e : new ApiError(0, 'CLIENT', String(e)))
      },
    )
  }
  const active = runId !== null && !finished
  return (
    <Section title="Train now">
      <p className="muted">Starts a run now: resolve data, train, evaluate against the gate, register, and deploy if the pipeline deploys automatically.</p>
      <div className="train-form">
        <div className="field">
          <label htmlFor={reasonId}>Reason (optional)</label>
          <input id={reasonId} type="text" value={reason} maxLength={2000} onChange={(e) => setReason(e.target.value)} placeholder="e.g. new labels arrived" />
        </div>
        <ChangeButton onClick={start} busy={busy || active}>
          {active ? 'Training…' : 'Train now'}
        </ChangeButton>
      </div>
      {error === undefined ? null : <ErrorNotice error={error} title="The run was not started" />}
      {runId === null ? null : (
        <div className="run-live" aria-label="Current run">
          <p>
            Run <Link to={paths.run(runId)}>{runId}</Link>
          </p>
          <RunProgressView stream={stream} />
          <LossCurve stream={stream} />
          {stream.statistics === null ? null : <RunStatisticsView statistics={stream.statistics} />}
        </div>
      )}
    </Section>
  )
}

export function Pipeline({ name }: { name: string }) {
  const { data, error, loading, reload } = useResource(`pipeline:${name}`, (signal) => loadPipeline(name, signal))
  return (
    <>
      <div className="page-head">
        <p className="crumbs">
          <Link to={paths.overview}>Overview</Link> / pipeline
        </p>
        <h1>{name}</h1>
        {data === undefined ? null : (
          <Facts
            items={[
              ['Task', data.summary.task],
              ['Dataset', <Link to={paths.data(data.summary.dataset)}>{data.summary.dataset}</Link>],
              ['Mode', <Badge value={data.summary.mode} />],
              ['Production', data.summary.production === null ? 'none yet' : <Link to={paths.models(name)}>v{data.summary.production}</Link>],
              ['Last trained', <span title={time(data.summary.lastTrainedAt)}>{ago(data.summary.lastTrainedAt)}</span>],
              ['Monitoring', <Link to={paths.monitoring(name)}>drift, online quality, alerts</Link>],
            ]}
          />
        )}
      </div>
      {error !== undefined ? <ErrorNotice error={error} title="Could not read the pipeline" /> : null}
      {data === undefined && loading ? <Loading what="the pipeline" /> : null}
      {data === undefined ? null : (
        <>
          <TrainNow pipeline={name} onFinished={reload} />
          <Section title="Quality per version">
            <MetricChart data={data} />
          </Section>
          <Section title="Runs">
            {data.runs.length === 0 ? (
              <p className="muted">No runs yet.</p>
            ) : (
              <div className="table-wrap">
                <table aria-label="Runs">
                  <thead>
                    <tr>
                      <th scope="col">Run</th>
                      <th scope="col">State</th>
                      <th scope="col">Trigger</th>
                      <th scope="col">Created</th>
                      <th scope="col" className="num">
                        Duration
                      </th>
                      <th scope="col">Model</th>
                      <th scope="col">Gate</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.runs.map((run) => (
                      <tr key={run.id}>
                        <th scope="row">
                          <Link to={paths.run(run.id)} className="mono">
                            {run.id}
                          </Link>
                        </th>
                        <td>
                          <Badge value={run.state} />
                        </td>
                        <td>
                          {run.trigger.type} <span className="sub">by {run.trigger.actor}</span>
                        </td>
                        <td title={time(run.createdAt)}>{ago(run.createdAt)}</td>
                        <td className="num">{duration(runDuration(run))}</td>
                        <td>{run.outcome?.modelVersion == null ? '–' : `v${run.outcome.modelVersion}${run.outcome.deployed ? ' (deployed)' : ''}`}</td>
                        <td>
                          {run.outcome?.gate == null ? (
                            '–'
                          ) : (
                            <>
                              <Badge value={run.outcome.gate.passed ? 'passed' : 'failed'} />{' '}
                              {run.outcome.gate.metric === null ? null : (
                                <span className="sub">
                                  {run.outcome.gate.metric} {metric(run.outcome.gate.value, 3)}
                                </span>
                              )}
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
        </>
      )}
    </>
  )
}
