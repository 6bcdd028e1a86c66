import { useMemo, useState } from 'react'
import { enc, getJson, send } from '../api'
import { useAuth } from '../auth'
import { Chart } from '../components/Chart'
import { Badge, ChangeButton, ErrorNotice, Facts, Loading, ReasonDialog, Section } from '../components/ui'
import { ago, bytes, count, metric, time } from '../format'
import { useResource } from '../hooks'
import { Link, paths } from '../router'
import type { ColumnStatistics, DatasetOverview, DatasetSummary, QuarantinedBatch } from '../types'

function Histogram({ column }: { column: ColumnStatistics & { numeric: NonNullable<ColumnStatistics['numeric']> } }) {
  const { edges, counts } = column.numeric.histogram
  const x = useMemo(() => counts.map((_, i) => ((edges[i] ?? 0) + (edges[i + 1] ?? 0)) / 2), [edges, counts])
  const series = useMemo(() => [{ label: 'rows', values: counts }], [counts])
  if (counts.length === 0) return null
  const peak = counts.indexOf(Math.max(...counts))
  return (
    <Chart
      title={`Distribution of ${column.name}`}
      summary={`Histogram of ${column.name} in ${counts.length} bins from ${metric(edges[0])} to ${metric(edges.at(-1))}; the fullest bin is around ${metric(x[peak])} with ${count(counts[peak])} rows`}
      x={x}
      xLabel={column.name}
      series={series}
      kind="bars"
      height={150}
    />
  )
}

function ColumnCard({ column }: { column: ColumnStatistics }) {
  const missing = column.count + column.missing === 0 ? 0 : column.missing / (column.count + column.missing)
  return (
    <article className="column" aria-label={`Column ${column.name}`}>
      <h3>
        {column.name} <span className="sub">{column.type}</span>
      </h3>
      <Facts
        items={[
          ['Values', count(column.count)],
          ['Missing', `${count(column.missing)} (${(missing * 100).toFixed(1)}%)`],
          ['Distinct', `≈ ${count(column.distinct)}`],
          ...(column.numeric === undefined
            ? []
            : ([
                ['Min / mean / max', `${metric(column.numeric.min, 2)} / ${metric(column.numeric.mean, 2)} / ${metric(column.numeric.max, 2)}`],
                ['Std', metric(column.numeric.std, 2)],
              ] as [string, string][])),
          ...(column.timestamp === undefined ? [] : ([['Range', `${time(column.timestamp.min)} → ${time(column.timestamp.max)}`]] as [string, string][])),
          ...(column.boolean === undefined ? [] : ([['True / false', `${count(column.boolean.trueCount)} / ${count(column.boolean.falseCount)}`]] as [string, string][])),
        ]}
      />
      {column.numeric === undefined ? null : <Histogram column={{ ...column, numeric: column.numeric }} />}
      {column.string === undefined || column.string.top.length === 0 ? null : (
        <table className="top-values" aria-label={`Most frequent values of ${column.name}`}>
          <tbody>
            {column.string.top.slice(0, 6).map((t) => (
              <tr key={t.value}>
                <td className="value" title={t.value}>
                  {t.value === '' ? <span className="muted">(empty)</span> : t.value}
                </td>
                <td className="bar-cell" aria-hidden="true">
                  <span className="bar" style={{ width: `${(t.count / Math.max(1, column.string?.top[0]?.count ?? 1)) * 100}%` }} />
                </td>
                <td className="num">{count(t.count)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </article>
  )
}

function Quarantine({ dataset, onChange }: { dataset: string | null; onChange: () => void }) {
  const { token } = useAuth()
  const query = dataset === null ? '' : `?dataset=${enc(dataset)}`
  const { data, error, loading, reload } = useResource(`quarantine:${dataset ?? ''}`, (signal) => getJson<{ batches: QuarantinedBatch[] }>(`/api/v1/quarantine${query}`, signal))
  const [pending, setPending] = useState<{ id: string; action: 'release' | 'discard' } | null>(null)
  const [done, setDone] = useState<string | null>(null)
  return (
    <Section title="Quarantine">
      <p className="muted">Batches that failed validation. They are kept byte for byte and never trained on until released; a discarded batch stays for audit.</p>
      {done === null ? null : (
        <div className="notice notice-good" role="status">
          {done}
        </div>
      )}
      {error !== undefined ? <ErrorNotice error={error} title="Could not read the quarantine" /> : null}
      {data === undefined ? (
        loading ? <Loading what="the quarantine" /> : null
      ) : data.batches.length === 0 ? (
        <p>No batch waits in quarantine.</p>
      ) : (
        <ul className="quarantine" aria-label="Quarantined batches">
          {data.batches.map((q) => (
            <li key={q.batch.id} className="quarantined">
              <div className="quarantined-head">
                <div>
                  <h3>
                    <span className="mono">{q.batch.id}</span> <Badge value="quarantined" />
                  </h3>
                  <p className="sub">
                    {q.batch.sourceName} · {count(q.batch.rows)} rows · {bytes(q.batch.sizeBytes)} · <Link to={paths.data(q.batch.dataset)}>{q.batch.dataset}</Link> · {ago(q.batch.createdAt)}
                  </p>
                </div>
                <div className="card-actions">
                  <ChangeButton onClick={() => setPending({ id: q.batch.id, action: 'release' })} label={`Release batch ${q.batch.id}`}>
                    Release…
                  </ChangeButton>
                  <ChangeButton tone="danger" onClick={() => setPending({ id: q.batch.id, action: 'discard' })} label={`Discard batch ${q.batch.id}`}>
                    Discard…
                  </ChangeButton>
                </div>
              </div>
              <table aria-label={`Anomalies of batch ${q.batch.id}`}>
                <thead>
                  <tr>
                    <th scope="col">Severity</th>
                    <th scope="col">Anomaly</th>
                    <th scope="col">Column</th>
                    <th scope="col" className="num">
                      Measured
                    </th>
                    <th scope="col" className="num">
                      Threshold
                    </th>
                    <th scope="col">Example rows</th>
                  </tr>
                </thead>
                <tbody>
                  {q.anomalies.map((a, i) => (
                    <tr key={`${a.code}-${a.column ?? ''}-${i}`}>
                      <td>
                        <Badge value={a.severity} />
                      </td>
                      <td>
                        <strong>{a.code}</strong>
                        <div className="sub">{a.message}</div>
                      </td>
                      <td>{a.column ?? '–'}</td>
                      <td className="num">{metric(a.value)}</td>
                      <td className="num">{a.threshold === null ? '–' : metric(a.threshold)}</td>
                      <td>
                        {a.examples.length === 0 ? '–' : a.examples.join(', ')}
                        {a.values === undefined || a.values.length === 0 ? null : <div className="sub">values: {a.values.join(', ')}</div>}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </li>
          ))}
        </ul>
      )}
      {pending === null ? null : (
        <ReasonDialog
          title={pending.action === 'release' ? `Release batch ${pending.id}?` : `Discard batch ${pending.id}?`}
          confirmLabel={pending.action === 'release' ? 'Release' : 'Discard'}
          tone={pending.action === 'release' ? 'primary' : 'danger'}
          onClose={() => setPending(null)}
          onConfirm={async (reason) => {
            const result = await send<QuarantinedBatch>('POST', `/api/v1/quarantine/${enc(pending.id)}/${pending.action}`, token, { reason, actor: 'dashboard' })
            setDone(`Batch ${result.batch.id} is ${result.batch.state}.`)
            reload()
            onChange()
          }}
        >
          <p>
            {pending.action === 'release'
              ? 'Releasing re-checks the batch against today’s data and makes its rows available to the next training run.'
              : 'Discarding keeps the batch’s bytes for audit, but no run will ever train on it.'}
          </p>
        </ReasonDialog>
      )}
    </Section>
  )
}

function DatasetDetail({ name }: { name: string }) {
  const { data, error, loading, reload } = useResource(`dataset:${name}`, (signal) => getJson<DatasetOverview>(`/api/v1/datasets/${enc(name)}`, signal))
  return (
    <>
      <div className="page-head">
        <p className="crumbs">
          <Link to={paths.data()}>Data</Link> / dataset
        </p>
        <h1>{name}</h1>
        {data === undefined ? null : (
          <Facts
            items={[
              ['Rows for training', count(data.rows)],
              ['Batches', count(data.batches.length)],
              ['Schema', data.schema === undefined ? '–' : `v${data.schema.version}, ${data.schema.columns.length} columns`],
              ['Event times', `${time(data.minEventTime)} → ${time(data.maxEventTime)}`],
            ]}
          />
        )}
      </div>
      {error !== undefined ? <ErrorNotice error={error} title="Could not read the dataset" /> : null}
      {data === undefined && loading ? <Loading what="the dataset" /> : null}
      {data === undefined ? null : (
        <>
          <Section title="Columns">
            {data.statistics.length === 0 ? (
              <p className="muted">No accepted rows yet.</p>
            ) : (
              <div className="columns">
                {data.statistics.map((c) => (
                  <ColumnCard key={c.name} column={c} />
                ))}
              </div>
            )}
          </Section>
          <Section title="Batches">
            <div className="table-wrap">
              <table aria-label="Batches">
                <thead>
                  <tr>
                    <th scope="col">#</th>
                    <th scope="col">Batch</th>
                    <th scope="col">State</th>
                    <th scope="col" className="num">
                      Rows
                    </th>
                    <th scope="col">Event times</th>
                    <th scope="col">Findings</th>
                    <th scope="col">Ingested</th>
                  </tr>
                </thead>
                <tbody>
                  {[...data.batches].reverse().map((b) => {
                    const anomalies = b.validation?.anomalies ?? []
                    const blocking = anomalies.filter((a) => a.severity === 'blocking').length
                    return (
                      <tr key={b.id}>
                        <td className="num">{b.seq}</td>
                        <th scope="row">
                          <span className="mono">{b.id}</span>
                          <div className="sub">{b.sourceName}</div>
                        </th>
                        <td>
                          <Badge value={b.state} />
                        </td>
                        <td className="num">{count(b.rows)}</td>
                        <td>
                          {time(b.minEventTime)} → {time(b.maxEventTime)}
                        </td>
                        <td>{anomalies.length === 0 ? <span className="muted">none</span> : `${blocking} blocking, ${anomalies.length - blocking} ${anomalies.length - blocking === 1 ? 'warning' : 'warnings'}: ${[...new Set(anomalies.map((a) => a.code))].join(', ')}`}</td>
                        <td title={time(b.createdAt)}>{ago(b.createdAt)}</td>
                      </tr>
                    )
                  })}
                </tbody>
              </table>
            </div>
          </Section>
          <Quarantine dataset={name} onChange={reload} />
        </>
      )}
    </>
  )
}

function DataHome() {
  const { data, error, reload } = useResource('datasets', (signal) => getJson<{ datasets: DatasetSummary[] }>('/api/v1/datasets', signal))
  return (
    <>
      <div className="page-head">
        <h1>Data</h1>
        <p className="muted">Datasets, their batches and statistics, and the batches validation kept aside.</p>
      </div>
      {error !== undefined ? <ErrorNotice error={error} title="Could not read the datasets" /> : null}
      <Section title="Datasets">
        {data === undefined ? (
          <Loading what="datasets" />
        ) : (
          <div className="table-wrap">
            <table aria-label="Datasets">
              <thead>
                <tr>
                  <th scope="col">Dataset</th>
                  <th scope="col" className="num">
                    Rows for training
                  </th>
                  <th scope="col">Batches</th>
                  <th scope="col">Schema</th>
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
                    <td>
                      {Object.entries(d.states).length === 0 ? <span className="muted">none</span> : Object.entries(d.states).map(([state, n]) => <Badge key={state} value={state} label={`${n} ${state}`} />)}
                    </td>
                    <td>{d.schemaVersion === null ? '–' : `v${d.schemaVersion}`}</td>
                    <td title={time(d.lastIngestedAt)}>{ago(d.lastIngestedAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>
      <Quarantine dataset={null} onChange={reload} />
    </>
  )
}

export function Data({ dataset }: { dataset: string | null }) {
  return dataset === null ? <DataHome /> : <DatasetDetail key={dataset} name={dataset} />
}
