import { useId, useState } from 'react'
import { enc, getJson, send } from '../api'
import { useAuth } from '../auth'
import { Badge, ChangeButton, ErrorNotice, Loading, ReasonDialog, Section } from '../components/ui'
import { ago, bytes, metric, time } from '../format'
import { useResource } from '../hooks'
import { Link, navigate, paths } from '../router'
import type { AliasMove, DeployOutcome, ModelVersion, ModelsView, PipelineSummary } from '../types'

/** The versions production went through, as the server's rollback reads them (src/registry/deploys.ts). */
function productionStack(history: AliasMove[]): number[] {
  let stack: number[] = []
  for (const move of history) {
    if (move.alias !== 'production') continue
    if (move.toVersion === null) {
      stack = []
      continue
    }
    const at = stack.indexOf(move.toVersion)
    stack = at >= 0 ? stack.slice(0, at + 1) : [...stack, move.toVersion]
  }
  return stack
}

function headline(v: ModelVersion): string {
  const names = v.task === 'binary' ? ['auc', 'logloss', 'f1'] : ['rmse', 'mae']
  return names
    .filter((n) => typeof v.metrics[n] === 'number')
    .map((n) => `${n} ${metric(v.metrics[n], 3)}`)
    .join(' · ')
}

type Pending = { kind: 'deploy'; version: number } | { kind: 'rollback' } | null

function ModelsOf({ pipeline }: { pipeline: string }) {
  const { token } = useAuth()
  const { data, error, loading, reload } = useResource(`models:${pipeline}`, (signal) => getJson<ModelsView>(`/api/v1/models/${enc(pipeline)}/versions`, signal))
  const [pending, setPending] = useState<Pending>(null)
  const [done, setDone] = useState<string | null>(null)
  const targetId = useId()
  const [target, setTarget] = useState<string>('')
  if (data === undefined) return error !== undefined ? <ErrorNotice error={error} title="Could not read the models" /> : loading ? <Loading what="models" /> : null
  const production = data.aliases.production ?? null
  const stack = productionStack(data.history)
  const rejected = new Set(data.versions.filter((v) => v.status === 'rejected').map((v) => v.version))
  const previous = stack.slice(0, -1).reverse().find((v) => !rejected.has(v)) ?? null
  const aliasesOf = (version: number) => Object.entries(data.aliases).filter(([, v]) => v === version).map(([a]) => a)
  const versions = [...data.versions].reverse()
  const history = [...data.history].reverse()
  return (
    <>
      {done === null ? null : (
        <div className="notice notice-good" role="status">
          {done}
        </div>
      )}
      {error !== undefined ? <ErrorNotice error={error} title="Could not refresh the models" /> : null}
      <Section
        title="Production"
        actions={
          <ChangeButton tone="danger" onClick={() => setPending({ kind: 'rollback' })} busy={production === null || previous === null}>
            Roll back…
          </ChangeButton>
        }
      >
        <p>
          {production === null ? (
            'No version is in production yet.'
          ) : (
            <>
              <strong>v{production}</strong> serves predictions.{' '}
              {previous === null ? 'There is no earlier production version to roll back to.' : <>A rollback would return to v{previous}.</>}
            </>
          )}
        </p>
        <p className="muted">
          Aliases:{' '}
          {Object.entries(data.aliases).length === 0
            ? 'none'
            : Object.entries(data.aliases).map(([alias, v]) => <Badge key={alias} value={alias === 'production' ? 'production' : 'alias'} label={`${alias} → v${v}`} />)}
        </p>
      </Section>
      <Section title="Versions">
        {versions.length === 0 ? (
          <p className="muted">No versions yet.</p>
        ) : (
          <div className="table-wrap">
            <table aria-label="Model versions">
              <thead>
                <tr>
                  <th scope="col">Version</th>
                  <th scope="col">Status</th>
                  <th scope="col">Holdout</th>
                  <th scope="col">Trainer</th>
                  <th scope="col">Created</th>
                  <th scope="col" className="num">
                    Size
                  </th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {versions.map((v) => (
                  <tr key={v.version}>
                    <th scope="row">
                      v{v.version}{' '}
                      {aliasesOf(v.version).map((a) => (
                        <Badge key={a} value={a === 'production' ? 'production' : 'alias'} label={a} />
                      ))}
                    </th>
                    <td>
                      <Badge value={v.status} />
                    </td>
                    <td>{headline(v)}</td>
                    <td>{v.trainer}</td>
                    <td title={time(v.createdAt)}>{ago(v.createdAt)}</td>
                    <td className="num">{bytes(v.sizeBytes)}</td>
                    <td>
                      {v.version === production || v.status === 'rejected' ? null : (
                        <ChangeButton tone="plain" onClick={() => setPending({ kind: 'deploy', version: v.version })} label={`Deploy v${v.version} to production`}>
                          Deploy…
                        </ChangeButton>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>
      <Section title="Alias history">
        {history.length === 0 ? (
          <p className="muted">No alias has moved yet.</p>
        ) : (
          <div className="table-wrap">
            <table aria-label="Alias history">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Alias</th>
                  <th scope="col">Move</th>
                  <th scope="col">Who</th>
                  <th scope="col">Why</th>
                </tr>
              </thead>
              <tbody>
                {history.map((m, i) => (
                  <tr key={`${m.at}-${i}`}>
                    <td>{time(m.at)}</td>
                    <td>{m.alias}</td>
                    <td>
                      {m.fromVersion === null ? 'none' : `v${m.fromVersion}`} → {m.toVersion === null ? 'none' : `v${m.toVersion}`}
                    </td>
                    <td>{m.actor}</td>
                    <td>{m.reason}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>
      {pending?.kind === 'deploy' ? (
        <ReasonDialog
          title={`Deploy v${pending.version} of ${pipeline} to production?`}
          confirmLabel={`Deploy v${pending.version}`}
          onClose={() => setPending(null)}
          onConfirm={async (reason) => {
            const outcome = await send<DeployOutcome>('PUT', `/api/v1/models/${enc(pipeline)}/aliases/production`, token, { version: pending.version, expected: production, reason })
            setDone(outcome.changed ? `Production moved from ${outcome.from === null ? 'none' : `v${outcome.from}`} to v${outcome.to}.` : `Production already pointed at v${outcome.to}.`)
            reload()
          }}
        >
          <p>
            Production moves from {production === null ? 'no version' : `v${production}`} to v{pending.version}. Predictions are answered by the new version from its next request on; the move is recorded in the alias history.
          </p>
        </ReasonDialog>
      ) : null}
      {pending?.kind === 'rollback' && production !== null ? (
        <ReasonDialog
          title={`Roll back ${pipeline}?`}
          confirmLabel="Roll back"
          tone="danger"
          onClose={() => setPending(null)}
          onConfirm={async (reason) => {
            const body = { reason, expected: production, ...(target === '' ? {} : { to: Number(target) }) }
            const outcome = await send<DeployOutcome>('POST', `/api/v1/models/${enc(pipeline)}/rollback`, token, body)
            setDone(`Rolled back: production moved from v${outcome.from ?? '–'} to v${outcome.to}.`)
            setTarget('')
            reload()
          }}
        >
          <p>Production serves v{production} now.</p>
          <div className="field">
            <label htmlFor={targetId}>Roll back to</label>
            <select id={targetId} value={target} onChange={(e) => setTarget(e.target.value)}>
              <option value="">{previous === null ? 'the previous production version' : `v${previous}, the previous production version`}</option>
              {data.versions
                .filter((v) => v.version !== production && v.version !== previous && v.status === 'registered')
                .map((v) => (
                  <option key={v.version} value={String(v.version)}>
                    v{v.version}
                  </option>
                ))}
            </select>
          </div>
        </ReasonDialog>
      ) : null}
    </>
  )
}

export function Models({ pipeline }: { pipeline: string | null }) {
  const selectId = useId()
  const { data, error } = useResource('pipelines', (signal) => getJson<{ pipelines: PipelineSummary[] }>('/api/v1/pipelines', signal))
  const chosen = pipeline ?? data?.pipelines[0]?.name ?? null
  return (
    <>
      <div className="page-head">
        <h1>Models</h1>
        <p className="muted">Versions in the registry, where the aliases point, and every move with who and why.</p>
        {data === undefined || data.pipelines.length < 2 ? null : (
          <div className="field-inline">
            <label htmlFor={selectId}>Pipeline</label>
            <select id={selectId} value={chosen ?? ''} onChange={(e) => navigate(paths.models(e.target.value))}>
              {data.pipelines.map((p) => (
                <option key={p.name} value={p.name}>
                  {p.name}
                </option>
              ))}
            </select>
          </div>
        )}
      </div>
      {error !== undefined ? <ErrorNotice error={error} title="Could not read the pipelines" /> : null}
      {chosen === null ? (
        data === undefined ? null : <p className="muted">No pipelines are declared in freshet.config.ts.</p>
      ) : (
        <>
          <h2 className="subhead">
            <Link to={paths.pipeline(chosen)}>{chosen}</Link>
          </h2>
          <ModelsOf key={chosen} pipeline={chosen} />
        </>
      )}
    </>
  )
}
