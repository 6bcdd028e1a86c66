import type { FastifyInstance } from 'fastify'
import type { Platform } from '../app/platform.js'
import { assertSafeBind } from './auth.js'
import { buildServer } from './app.js'
import type { RunEventStreamOptions } from './run-routes.js'

export interface ListenOptions {
  host?: string
  port?: number
  runEvents?: RunEventStreamOptions
}

/** Starts the server on the configured or given address (default 127.0.0.1:7070). */
export async function startServer(platform: Platform, options: ListenOptions = {}): Promise<{ app: FastifyInstance; url: string }> {
  const server = platform.config.config.server ?? {}
  const host = options.host ?? server.host ?? '127.0.0.1'
  const port = options.port ?? server.port ?? 7070
  const token = process.env.FRESHET_TOKEN ?? server.token
  assertSafeBind(host, token)
  const app = await buildServer(platform, { token, ...(options.runEvents === undefined ? {} : { runEvents: options.runEvents }) })
  const address = await app.listen({ host, port })
  return { app, url: address.replace('://[::1]', '://localhost') }
}
