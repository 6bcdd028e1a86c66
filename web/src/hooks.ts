import { useCallback, useEffect, useRef, useState } from 'react'
import { ApiError } from './api'

export interface Resource<T> {
  data: T | undefined
  error: ApiError | undefined
  loading: boolean
  /** Reads again, keeping the current data on screen meanwhile. */
  reload: () => void
}

/** Loads `load()` when `key` changes; a newer load wins over an older one still in flight. */
export function useResource<T>(key: string, load: (signal: AbortSignal) => Promise<T>): Resource<T> {
  const [state, setState] = useState<{ key: string; data: T | undefined; error: ApiError | undefined; loading: boolean }>({
    key,
    data: undefined,
    error: undefined,
    loading: true,
  })
  const [generation, setGeneration] = useState(0)
  const loadRef = useRef(load)
  loadRef.current = load
  useEffect(() => {
    const controller = new AbortController()
    setState((s) => (s.key === key ? { ...s, loading: true } : { key, data: undefined, error: undefined, loading: true }))
    loadRef.current(controller.signal).then(
      (data) => {
        if (!controller.signal.aborted) setState({ key, data, error: undefined, loading: false })
      },
      (error: unknown) => {
        if (controller.signal.aborted) return
        const problem = error instanceof ApiError ? error : new ApiError(0, 'CLIENT', error instanceof Error ? error.message : String(error))
        setState((s) => ({ ...s, error: problem, loading: false }))
      },
    )
    return () => controller.abort()
  }, [key, generation])
  const reload = useCallback(() => setGeneration((g) => g + 1), [])
  const current = state.key === key ? state : { data: undefined, error: undefined, loading: true }
  return { data: current.data, error: current.error, loading: current.loading, reload }
}
