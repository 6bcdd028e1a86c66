import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react'
import { onUnauthorized } from './api'

const storageKey = 'freshet.token'

interface Auth {
  /** The bearer token for this browser session, or null: read-only. */
  token: string | null
  setToken: (token: string | null) => void
}

const AuthContext = createContext<Auth>({ token: null, setToken: () => undefined })

function stored(): string | null {
  try {
    return window.sessionStorage.getItem(storageKey)
  } catch {
    return null
  }
}

/** Keeps the API token in sessionStorage: it lasts while the tab is open and is never written to disk for good. */
export function AuthProvider({ children }: { children: ReactNode }) {
  const [token, setState] = useState<string | null>(stored)
  const setToken = useCallback((next: string | null) => {
    const value = next === null || next.trim() === '' ? null : next.trim()
    try {
      if (value === null) window.sessionStorage.removeItem(storageKey)
      else window.sessionStorage.setItem(storageKey, value)
    } catch {
      // Storage refused (private mode): the token lasts until the page reloads.
    }
    setState(value)
  }, [])
  useEffect(() => {
    onUnauthorized(() => setToken(null))
    return () => onUnauthorized(undefined)
  }, [setToken])
  const value = useMemo(() => ({ token, setToken }), [token, setToken])
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>
}

export const useAuth = (): Auth => useContext(AuthContext)

/** Why a change button is disabled, for its description; undefined when it can be used. */
export const readOnlyReason = 'Read-only: sign in with the server’s access token (FRESHET_TOKEN) to make changes.'
