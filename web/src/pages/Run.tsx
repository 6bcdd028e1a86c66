import { useEffect } from 'react'
import { enc, getJson } from '../api'
import { LossCurve, RunProgressView } from '../components/LiveRun'
import { RunStatisticsView } from '../components/RunStatistics'
import { Badge, ErrorNotice, Facts, Loading, Section } from '../components/ui'
import { duration, time } from '../format'
import { useResource } from '../hooks'
import { Link, paths } from '../router'
import { useRunStream } from '../run-stream'
import type { Run as RunRecord, RunStatistics } from '../types'

type RunView = RunRecord & { statistics: RunStatistics | null }

export function Run({ id }: { id: string }) {
  const { data: run, error, loading, reload } = useResource(`run:${id}`, (signal) => getJson<RunView>(`/api/v1/runs/${enc(id)}`, signal))
  const stream = useRunStream(run === undefined ? null : id)
  const finished = stream.statistics !== null
  useEffect(() => {
    if (finished) reload()
  }, [finished, reload])
  const statistics = stream.statistics ?? run?.statistics ?? null
  const steps = run?.steps.map((s) => stream.steps[s.name] ?? s) ?? []
  return (
    <>
      <div className="page-head">
        <p className="crumbs">
          <Link to={paths.overview}>Overview</Link> / {run === undefined ? 'run' : <Link to={paths.pipeline(run.pipeline)}>{run.pipeline}</Link>} / run
        </p>
        <h1 className="mono">{id}</h1>
        {run === undefined ? null : (
          <Facts
            items={[
              ['State', <Badge value={stream.state ?? run.state} />],
              ['Trigger', `${run.trigger.type} by ${run.trigger.actor}${run.trigger.reason === undefined ? '' : ` — ${run.trigger.reason}`}`],
              ['Created', time(run.createdAt)],
              ['Finished', time(run.finishedAt)],
              ['Attempt', String(run.attempt)],
            ]}
          />
        )}
      </div>
      {error !== undefined ? <ErrorNotice error={error} title="Could not read the run" /> : null}
      {run === undefined && loading ? <Loading what="the run" /> : null}
      {run === undefined ? null : (
        <>
          {statistics === null ? (
            <Section title="Progress">
              <RunProgressView stream={stream} />
            </Section>
          ) : (
            <Section title="Statistics">
              <RunStatisticsView statistics={statistics} />
            </Section>
          )}
          <Section title="Steps">
            <div className="table-wrap">
              <table aria-label="Steps">
                <thead>
                  <tr>
                    <th scope="col">Step</th>
                    <th scope="col">Status</th>
                    <th scope="col">Started</th>
                    <th scope="col" className="num">
                      Duration
                    </th>
                    <th scope="col">Problem</th>
                  </tr>
                </thead>
                <tbody>
                  {steps.map((step) => (
                    <tr key={step.name}>
                      <th scope="row">{step.name}</th>
                      <td>
                        <Badge value={step.status} />
                      </td>
                      <td>{time(step.startedAt)}</td>
                      <td className="num">{duration(step.durationMs)}</td>
                      <td>{step.error === null ? '' : `${step.error.code}: ${step.error.message}`}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </Section>
          <Section title="Loss curve">
            {stream.progress.length === 0 ? <p className="muted">{finished || run.finishedAt !== null ? 'The trainer reported no loss for this run.' : 'The curve appears once training reports progress.'}</p> : <LossCurve stream={stream} />}
          </Section>
          <Section title="Logs">
            {stream.logs.length === 0 ? (
              <p className="muted">No log lines.</p>
            ) : (
              <pre className="logs" role="log" aria-label="Trainer logs" tabIndex={0}>
                {stream.logs.map((l, i) => (
                  <span key={i} className={l.stream === 'stderr' ? 'stderr' : undefined}>
                    {l.line}
                    {'\n'}
                  </span>
                ))}
              </pre>
            )}
          </Section>
        </>
      )}
    </>
  )
}
