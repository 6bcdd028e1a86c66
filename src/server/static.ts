import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { FreshetError } from '../core/errors.js'
import { renderHome, renderHomeMain, type DatasetSummary } from './home.js'
import type { PipelineSummary } from './model-routes.js'

/**
 * Where `npm run build` puts the dashboard (Vite, web/vite.config.ts): `dist/web`. Compiled, this file is
 * `dist/src/server/static.js`; run from source (tests), it is `src/server/static.ts`.
 */
export const defaultWebRoot = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../../dist/web/' : '../../web/', import.meta.url))

/** The pages of the single-page app: each answers index.html, so a link to one can be reloaded or bookmarked. */
const clientRoutes = ['/', '/pipelines/*', '/runs/*', '/models', '/models/*', '/data', '/data/*']

const contentTypes: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
}
const compressible = new Set(['.js', '.css', '.svg'])
const noscriptMarker = '<!--freshet:noscript-->'
/** Scripts, styles and requests only from this server; charts draw on canvas; the favicon is a data: URL. */
const contentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

export interface StatusSummary {
  datasets: readonly DatasetSummary[]
  pipelines: readonly PipelineSummary[]
}

export interface DashboardOptions {
  /** The built dashboard; default {@link defaultWebRoot}. */
  readonly root?: string
  /** What the server-rendered status page shows (the page itself without a build, the no-script view with one). */
  readonly status: () => Promise<StatusSummary>
}

interface Asset {
  readonly type: string
  readonly body: Buffer
  readonly gzip: Buffer | undefined
}

/** The built files under `assets/`, read once: names are content-hashed, so a build never changes a file in place. */
function readAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>()
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return assets
  }
  for (const name of names) {
    const ext = path.extname(name)
    const type = contentTypes[ext]
    const file = path.join(dir, name)
    if (type === undefined || name.startsWith('.') || !statSync(file).isFile()) continue
    const body = readFileSync(file)
    assets.set(name, { type, body, gzip: compressible.has(ext) && body.length > 1024 ? gzipSync(body) : undefined })
  }
  return assets
}

function readIndex(root: string): string | undefined {
  try {
    const html = readFileSync(path.join(root, 'index.html'), 'utf8')
    return html.includes(noscriptMarker) ? html : undefined
  } catch {
    return undefined
  }
}

const accepts = (header: string | undefined, encoding: string): boolean =>
  (header ?? '').split(',').some((part) => part.trim().split(';')[0] === encoding)

/**
 * Serves the dashboard at `/`: index.html for the app's pages (with the status summary inside `<noscript>`) and
 * the hashed files under `/assets/` with a one-year immutable cache. Only files found in the build at start are
 * served, looked up by exact name, so no request path reaches the file system. Without a build (`dist/web`
 * missing, as in tests that do not build it) `/` is the server-rendered status page.
 */
export function registerDashboard(app: FastifyInstance, options: DashboardOptions): void {
  const root = options.root ?? defaultWebRoot
  const index = readIndex(root)
  const html = (reply: FastifyReply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('content-security-policy', contentSecurityPolicy)

  if (index === undefined) {
    app.get('/', async (_request, reply) => {
      const { datasets, pipelines } = await options.status()
      return html(reply).send(renderHome(datasets, pipelines))
    })
    return
  }

  const assets = readAssets(path.join(root, 'assets'))
  app.get('/assets/:file', async (request, reply) => {
    const name = (request.params as { file?: string }).file ?? ''
    const asset = assets.get(name)
    if (asset === undefined) {
      const missing = new FreshetError('FILE_NOT_FOUND', `the dashboard has no file ${JSON.stringify(name)}`, { hint: 'reload the page: the dashboard may have been rebuilt' })
      return reply.code(missing.httpStatus).send(missing.toJSON())
    }
    const gzip = asset.gzip !== undefined && accepts(request.headers['accept-encoding'], 'gzip')
    reply
      .type(asset.type)
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('x-content-type-options', 'nosniff')
      .header('vary', 'accept-encoding')
    if (gzip) reply.header('content-encoding', 'gzip')
    return reply.send(gzip ? asset.gzip : asset.body)
  })
  for (const route of clientRoutes) {
    app.get(route, async (_request, reply) => {
      const { datasets, pipelines } = await options.status()
      return html(reply).send(index.replace(noscriptMarker, () => `<noscript>${renderHomeMain(datasets, pipelines)}</noscript>`))
    })
  }
}
