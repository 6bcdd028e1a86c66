import { useEffect, useState, type AnchorHTMLAttributes, type MouseEvent, type ReactNode } from 'react'

// A small client-side router over the History API: the server answers index.html for each route below, so a
// link can be bookmarked or reloaded.

export type Route =
  | { page: 'overview' }
  | { page: 'pipeline'; name: string }
  | { page: 'run'; id: string }
  | { page: 'models'; pipeline: string | null }
  | { page: 'data'; dataset: string | null }
  | { page: 'monitoring'; pipeline: string | null }
  | { page: 'not-found'; path: string }

export function parseRoute(path: string): Route {
  const parts = path.split('/').filter((p) => p !== '').map((p) => {
    try {
      return decodeURIComponent(p)
    } catch {
      return p
    }
  })
  const [first, second, ...rest] = parts
  if (first === undefined) return { page: 'overview' }
  if (rest.length === 0) {
    if (first === 'pipelines' && second !== undefined) return { page: 'pipeline', name: second }
    if (first === 'runs' && second !== undefined) return { page: 'run', id: second }
    if (first === 'models') return { page: 'models', pipeline: second ?? null }
    if (first === 'data') return { page: 'data', dataset: second ?? null }
    if (first === 'monitoring' && second === undefined) return { page: 'monitoring', pipeline: null }
  }
  if (first === 'pipelines' && second !== undefined && rest.length === 1 && rest[0] === 'monitoring') return { page: 'monitoring', pipeline: second }
  return { page: 'not-found', path }
}

const listeners = new Set<() => void>()
window.addEventListener('popstate', () => {
  for (const listener of listeners) listener()
})

export function navigate(to: string): void {
  if (to === window.location.pathname) return
  window.history.pushState(null, '', to)
  window.scrollTo(0, 0)
  for (const listener of listeners) listener()
}

export function usePath(): string {
  const [path, setPath] = useState(window.location.pathname)
  useEffect(() => {
    const listener = () => setPath(window.location.pathname)
    listeners.add(listener)
    return () => {
      listeners.delete(listener)
    }
  }, [])
  return path
}

type LinkProps = Omit<AnchorHTMLAttributes<HTMLAnchorElement>, 'href'> & { to: string; children: ReactNode }

/** An ordinary link (open in a new tab works) that changes page without reloading. */
export function Link({ to, children, onClick, ...rest }: LinkProps) {
  const follow = (event: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(event)
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return
    event.preventDefault()
    navigate(to)
  }
  return (
    <a href={to} onClick={follow} {...rest}>
      {children}
    </a>
  )
}

export const paths = {
  overview: '/',
  pipeline: (name: string) => `/pipelines/${encodeURIComponent(name)}`,
  run: (id: string) => `/runs/${encodeURIComponent(id)}`,
  models: (pipeline?: string) => (pipeline === undefined ? '/models' : `/models/${encodeURIComponent(pipeline)}`),
  monitoring: (pipeline?: string) => (pipeline === undefined ? '/monitoring' : `/pipelines/${encodeURIComponent(pipeline)}/monitoring`),
  data: (dataset?: string) => (dataset === undefined ? '/data' : `/data/${encodeURIComponent(dataset)}`),
}
