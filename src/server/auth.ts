import { timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { FreshetError } from '../core/errors.js'

const readOnlyMethods = new Set(['GET', 'HEAD', 'OPTIONS'])

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

/**
 * Default-deny at the router: every request that is not a read (GET/HEAD/OPTIONS) needs
 * `Authorization: Bearer <token>`, unless its route is marked `config: { public: true }` (scoring, which changes
 * nothing). Without a configured token, no such request is ever allowed.
 */
export function installAuth(app: FastifyInstance, token: string | undefined): void {
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (readOnlyMethods.has(request.method)) return
    if ((request.routeOptions.config as { public?: boolean } | undefined)?.public === true) return
    const header = request.headers.authorization ?? ''
    const given = header.startsWith('Bearer ') ? header.slice(7) : ''
    if (token === undefined || given === '' || !sameToken(given, token)) {
      await reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({ code: 'UNAUTHORIZED', message: token === undefined ? 'this server has no token configured, so it accepts no changes: set FRESHET_TOKEN' : 'missing or wrong bearer token' })
    }
  })
}

/** Promise 8: a server reachable from other machines must have a token. */
export function assertSafeBind(host: string, token: string | undefined): void {
  if (!isLoopback(host) && token === undefined) {
    throw new FreshetError('USAGE', `refusing to listen on ${host} without a token: anyone who can reach it could change state`, {
      hint: 'set FRESHET_TOKEN (or server.token in freshet.config.ts), or listen on 127.0.0.1',
    })
  }
}
