import { createHmac } from 'node:crypto'

/** The header carrying `sha256=<hex HMAC-SHA256 of the raw body>` under the webhook's secret. */
export const signatureHeader = 'x-freshet-signature'

export interface WebhookOptions {
  /** The HMAC key; without it the POST carries no signature. */
  readonly secret?: string | undefined
  /** Attempts in all, at least 1; default 5. */
  readonly attempts?: number
  /** Wait before the 2nd attempt, doubled for each later one (at most 30 s); default 500 ms. */
  readonly backoffMs?: number
  /** Per attempt; default 5 s. */
  readonly timeoutMs?: number
}

/** What a delivery did: it stops at the first 2xx, a 4xx other than 408/429, or after its last attempt. */
export interface WebhookDelivery {
  readonly url: string
  readonly delivered: boolean
  readonly attempts: number
  /** The last HTTP status, null when no answer came. */
  readonly status: number | null
  readonly error: string | null
}

/** `sha256=` and the hex HMAC-SHA256 of `body` under `secret`: what a receiver recomputes and compares. */
export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`
}

const retriable = (status: number) => status >= 500 || status === 408 || status === 429

/**
 * POSTs `payload` as JSON, signed, retrying network errors, timeouts and 5xx/408/429 answers with exponential
 * backoff, a bounded number of times. Never throws: the result says what happened.
 */
export async function deliverWebhook(
  url: string,
  payload: unknown,
  options: WebhookOptions = {},
): Promise<WebhookDelivery> {
  const attempts = Math.max(1, options.attempts ?? 5)
  const body = JSON.stringify(payload)
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'freshet-monitor',
  }
  if (options.secret !== undefined) headers[signatureHeader] = signBody(body, options.secret)
  let status: number | null = null
  let error: string | null = null
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1)
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(30_000, (options.backoffMs ?? 500) * 2 ** (attempt - 2))),
      )
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
        redirect: 'error',
      })
      status = response.status
      await response.body?.cancel()
      if (response.ok) return { url, delivered: true, attempts: attempt, status, error: null }
      error = `the receiver answered HTTP ${status}`
      if (!retriable(status)) return { url, delivered: false, attempts: attempt, status, error }
    } catch (e) {
      status = null
      error = (e as Error).message
    }
  }
  return { url, delivered: false, attempts, status, error }
}
