import { useEffect, useId, useRef, useState } from 'react'
import { useAuth } from './auth'
import { Data } from './pages/Data'
import { Models } from './pages/Models'
import { Monitoring, MonitoringIndex } from './pages/Monitoring'
import { Overview } from './pages/Overview'
import { Pipeline } from './pages/Pipeline'
import { Run } from './pages/Run'
import { Link, parseRoute, paths, usePath, type Route } from './router'

function TokenControl() {
  const { token, setToken } = useAuth()
  const [open, setOpen] = useState(false)
  const [value, setValue] = useState('')
  const inputId = useId()
  const titleId = useId()
  const dialog = useRef<HTMLDialogElement>(null)
  useEffect(() => {
    const el = dialog.current
    if (el === null) return
    if (open && !el.open) el.showModal()
    if (!open && el.open) el.close()
  }, [open])
  if (token !== null) {
    return (
      <div className="auth">
        <span className="auth-state">Signed in: changes allowed</span>
        <button type="button" className="button button-plain" onClick={() => setToken(null)}>
          Forget token
        </button>
      </div>
    )
  }
  return (
    <div className="auth">
      <span className="auth-state">Read-only</span>
      <button type="button" className="button button-primary" onClick={() => setOpen(true)}>
        Sign in
      </button>
      <dialog
        ref={dialog}
        className="dialog"
        aria-labelledby={titleId}
        onCancel={(event) => {
          event.preventDefault()
          setOpen(false)
        }}
      >
        <form
          onSubmit={(event) => {
            event.preventDefault()
            if (value.trim() === '') return
            setToken(value)
            setValue('')
            setOpen(false)
          }}
        >
          <h2 id={titleId}>Sign in</h2>
          <p className="muted">
            Paste the server’s access token (FRESHET_TOKEN). It is kept in this tab only, until you close it, and sent with each change. Reading needs no token.
          </p>
          <label htmlFor={inputId}>Access token</label>
          <input id={inputId} type="password" autoComplete="off" value={value} onChange={(e) => setValue(e.target.value)} required autoFocus />
          <div className="dialog-actions">
            <button type="button" className="button button-plain" onClick={() => setOpen(false)}>
              Cancel
            </button>
            <button type="submit" className="button button-primary">
              Use this token
            </button>
          </div>
        </form>
      </dialog>
    </div>
  )
}

const titles: Record<Route['page'], string> = {
  overview: 'Overview',
  pipeline: 'Pipeline',
  run: 'Run',
  models: 'Models',
  data: 'Data',
  monitoring: 'Monitoring',
  'not-found': 'Not found',
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'overview':
      return <Overview />
    case 'pipeline':
      return <Pipeline key={route.name} name={route.name} />
    case 'run':
      return <Run key={route.id} id={route.id} />
    case 'models':
      return <Models pipeline={route.pipeline} />
    case 'data':
      return <Data dataset={route.dataset} />
    case 'monitoring':
      return route.pipeline === null ? <MonitoringIndex /> : <Monitoring key={route.pipeline} name={route.pipeline} />
    case 'not-found':
      return (
        <div className="page-head">
          <h1>Not found</h1>
          <p>
            There is no page at <code>{route.path}</code>. <Link to={paths.overview}>Go to the overview</Link>.
          </p>
        </div>
      )
  }
}

export function App() {
  const path = usePath()
  const route = parseRoute(path)
  const main = useRef<HTMLElement>(null)
  const first = useRef(true)
  useEffect(() => {
    document.title = `${titles[route.page]} · Freshet`
    // After a client-side page change, move focus to the new page, as a full page load would.
    if (first.current) first.current = false
    else main.current?.focus()
  }, [path, route.page])
  const section = route.page === 'models' ? 'models' : route.page === 'data' ? 'data' : route.page === 'monitoring' ? 'monitoring' : 'overview'
  const nav: [string, string, string][] = [
    ['overview', 'Overview', paths.overview],
    ['models', 'Models', paths.models()],
    ['data', 'Data', paths.data()],
    ['monitoring', 'Monitoring', paths.monitoring()],
  ]
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link to={paths.overview} className="brand" aria-label="Freshet overview">
          <svg viewBox="0 0 16 16" width="22" height="22" aria-hidden="true">
            <path d="M1 10c3-4 5 2 7-1s4-5 7-2v8H1z" fill="currentColor" />
          </svg>
          Freshet
        </Link>
        <nav aria-label="Main">
          <ul>
            {nav.map(([key, label, to]) => (
              <li key={key}>
                <Link to={to} aria-current={section === key ? 'page' : undefined}>
                  {label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <TokenControl />
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        <Page route={route} />
      </main>
    </>
  )
}
