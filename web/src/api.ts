import type { ApiProblem } from './types'

/** A refused or failed API call, with the server's code and message (or what went wrong on the way). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message)
    this.name = 'ApiError'
  }

  get unauthorized(): boolean {
    return this.status === 401
  }
}

let unauthorizedHandler: (() => void) | undefined

/** Called when the server refuses the session's token (401), so the dashboard can stop offering changes. */
export function onUnauthorized(handler: (() => void) | undefined): void {
  unauthorizedHandler = handler
}

async function problemOf(response: Response): Promise<ApiError> {
  let body: Partial<ApiProblem> = {}
  try {
    body = (await response.json()) as Partial<ApiProblem>
  } catch {
    // Not JSON (a proxy's page): the status says enough.
  }
  if (response.status === 401) {
    unauthorizedHandler?.()
    return new ApiError(
      401,
      body.code ?? 'UNAUTHORIZED',
      'The server refused this change: the access token is missing or wrong. The dashboard is read-only again: sign in with the right token, then retry.',
      body.message,
    )
  }
  return new ApiError(response.status, body.code ?? `HTTP_${response.status}`, body.message ?? `${response.status} ${response.statusText}`, body.hint)
}

async function call<T>(path: string, init: RequestInit): Promise<T> {
  let response: Response
  try {
    response = await fetch(path, { ...init, headers: { accept: 'application/json', ...init.headers } })
  } catch (error) {
    throw new ApiError(0, 'NETWORK', `The server did not answer (${error instanceof Error ? error.message : String(error)}). Is freshet up still running?`)
  }
  if (!response.ok) throw await problemOf(response)
  return (await response.json()) as T
}

/** Reads need no token. */
export function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  return call<T>(path, signal === undefined ? {} : { signal })
}

/** A change: sent with the session's bearer token. */
export function send<T>(method: 'POST' | 'PUT', path: string, token: string | null, body: unknown): Promise<T> {
  // The actor labels the change in the audit trail (alias history); the token is what authorises it.
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-freshet-actor': 'dashboard' }
  if (token !== null) headers.authorization = `Bearer ${token}`
  return call<T>(path, { method, headers, body: JSON.stringify(body) })
}

export const enc = encodeURIComponent
