import { randomUUID } from 'node:crypto'
import type { Selectable } from 'kysely'
import type { Platform } from '../app/platform.js'
import { formatDuration, parseDuration } from '../core/durations.js'
import { FreshetError, isFreshetError } from '../core/errors.js'
import type { CanaryTable, MetadataDb } from '../storage/metadata/database.js'
import { pipelineSpecOf } from '../training/train.js'
import { canaryPolicy, judgeCanary, type CanaryAction, type CanaryEvidence } from './canary-verdict.js'
import type { CanaryRoute } from './model-cache.js'
import { onlineParts, summarize } from './online-metrics.js'

export type CanaryState = 'active' | 'promoted' | 'rolled-back' | 'inconclusive'

/** A canary: a version serving a share of a pipeline's traffic while it bakes, and how it ended. */
export interface Canary {
  readonly id: string
  readonly pipeline: string
  readonly version: number
  /** `production` when the canary started. */
  readonly baselineVersion: number
  readonly percent: number
  readonly state: CanaryState
  /** Started on a version that failed its gate, by an operator's decision. */
  readonly forced: boolean
  readonly actor: string
  readonly reason: string
  readonly startedAt: string
  readonly bakeMs: number
  readonly bakeUntil: string
  readonly extensions: number
  readonly decidedAt: string | null
  readonly decidedBy: string | null
  /** Why it ended, with both arms' numbers. */
  readonly decision: string | null
  readonly evidence: CanaryEvidence | null
}

function toCanary(row: Selectable<CanaryTable>): Canary {
  return {
    id: row.id,
    pipeline: row.pipeline,
    version: Number(row.version),
    baselineVersion: Number(row.baseline_version),
    percent: Number(row.percent),
    state: row.state as CanaryState,
    forced: Number(row.forced) === 1,
    actor: row.actor,
    reason: row.reason,
    startedAt: row.started_at,
    bakeMs: Number(row.bake_ms),
    bakeUntil: row.bake_until,
    extensions: Number(row.extensions),
    decidedAt: row.decided_at,
    decidedBy: row.decided_by,
    decision: row.decision,
    evidence: row.evidence === null ? null : (JSON.parse(row.evidence) as CanaryEvidence),
  }
}

/** The pipeline's active canary, if any. */
export async function activeCanary(db: MetadataDb, pipeline: string): Promise<Canary | undefined> {
  const row = await db.selectFrom('canaries').selectAll().where('pipeline', '=', pipeline).where('state', '=', 'active').executeTakeFirst()
  return row === undefined ? undefined : toCanary(row)
}

/** What serving needs of the active canary: read by the model cache on every refresh. */
export async function activeCanaryRoute(db: MetadataDb, pipeline: string): Promise<CanaryRoute | undefined> {
  const row = await db.selectFrom('canaries').select(['version', 'percent']).where('pipeline', '=', pipeline).where('state', '=', 'active').executeTakeFirst()
  return row === undefined ? undefined : { version: Number(row.version), percent: Number(row.percent) }
}

/** Every canary of a pipeline, newest first. */
export async function canaryHistory(db: MetadataDb, pipeline: string): Promise<Canary[]> {
  const rows = await db.selectFrom('canaries').selectAll().where('pipeline', '=', pipeline).orderBy('started_at', 'desc').execute()
  return rows.map(toCanary)
}

export interface StartCanaryOptions {
  readonly pipeline: string
  readonly version: number
  /** Share of traffic, above 0 and below 100; default `deploy.canary.percent`. */
  readonly percent?: number
  /** A duration such as `15m` (or milliseconds); default `deploy.canary.bake`. */
  readonly bake?: string | number
  readonly actor: string
  readonly reason: string
  /** Serve a version that failed its gate (recorded; promotion then forces `production` too). */
  readonly force?: boolean
  readonly now?: Date
}

/**
 * Starts a canary: records it and points the `candidate` alias at the version (compare-and-swap, recorded), in one
 * transaction. Servers route `percent` of the pipeline's predict requests to it within their refresh interval;
 * {@link checkCanaries} then promotes it or rolls it back.
 * @throws FreshetError `CANARY_CONFLICT` when the pipeline already has an active canary, `MODEL_NOT_FOUND`,
 * `MODEL_REJECTED` for a version that failed its gate (unless `force`), `USAGE` for a bad percent or bake, no
 * production model to compare with, or the production version itself; `ALIAS_CONFLICT` when `candidate` moved
 * meanwhile. Nothing is changed when it throws.
 */
export async function startCanary(platform: Platform, options: StartCanaryOptions, trx?: MetadataDb): Promise<Canary> {
  const { pipeline, version } = options
  // Inside a caller's transaction (a run's lease transaction), every read goes through it too.
  const db = trx ?? platform.db
  const spec = pipelineSpecOf(platform, pipeline)
  canaryPolicy(pipeline, spec)
  const percent = options.percent ?? spec.deploy?.canary?.percent
  if (percent === undefined || !(percent > 0 && percent < 100)) {
    throw new FreshetError('USAGE', `a canary serves a share of traffic above 0% and below 100%, got ${percent === undefined ? 'none' : `${percent}%`}`, {
      hint: `pass a percent or set pipelines.${pipeline}.deploy.canary.percent; to send all traffic, deploy to production instead`,
    })
  }
  const bakeSetting = options.bake ?? spec.deploy?.canary?.bake
  if (bakeSetting === undefined) throw new FreshetError('USAGE', `no bake time for the canary of ${pipeline}`, { hint: `pass one or set pipelines.${pipeline}.deploy.canary.bake (e.g. '15m')` })
  const bakeMs = typeof bakeSetting === 'number' ? bakeSetting : parseDuration(bakeSetting)
  if (!(bakeMs > 0)) throw new FreshetError('USAGE', `a canary must bake for some time, got ${bakeSetting}`)
  const model = await platform.registry.version(pipeline, version, trx)
  if (model.status === 'rejected' && options.force !== true) {
    throw new FreshetError('MODEL_REJECTED', `${pipeline} v${version} failed its gate, so it does not get traffic, not even as a canary; nothing was changed`, {
      hint: 'start the canary anyway only with force and a reason, which is recorded',
    })
  }
  const production = await platform.registry.alias(pipeline, 'production', trx)
  if (production === undefined) {
    throw new FreshetError('USAGE', `pipeline ${pipeline} has no production model for a canary to be compared with`, { hint: `deploy v${version} to production directly` })
  }
  if (production === version) throw new FreshetError('USAGE', `${pipeline} v${version} is already the production model; a canary needs another version`)

  const now = options.now ?? new Date()
  const row = {
    id: randomUUID(),
    pipeline,
    version,
    baseline_version: production,
    percent,
    state: 'active',
    forced: model.status === 'rejected' ? 1 : 0,
    actor: options.actor,
    reason: options.reason,
    started_at: now.toISOString(),
    bake_ms: bakeMs,
    bake_until: new Date(now.getTime() + bakeMs).toISOString(),
    extensions: 0,
    decided_at: null,
    decided_by: null,
    decision: null,
    evidence: null,
  }
  const conflict = (active: Canary, cause?: unknown) =>
    new FreshetError('CANARY_CONFLICT', `pipeline ${pipeline} already has an active canary: v${active.version} on ${active.percent}% of traffic since ${active.startedAt}; nothing was changed`, {
      hint: 'wait for it to be promoted or rolled back, or stop it first',
      ...(cause === undefined ? {} : { cause }),
    })
  const write = async (trx: MetadataDb): Promise<void> => {
    await trx.insertInto('canaries').values(row).execute()
    const current = await platform.registry.alias(pipeline, 'candidate', trx)
    await platform.registry.moveAlias(
      { pipeline, alias: 'candidate', version, expected: current ?? null, actor: options.actor, reason: `canary: ${percent}% of traffic for ${formatDuration(bakeMs)}: ${options.reason}`, force: options.force === true },
      trx,
    )
  }
  if (trx !== undefined) {
    // Checked first: a unique violation would abort the caller's whole transaction on PostgreSQL.
    const active = await activeCanary(db, pipeline)
    if (active !== undefined) throw conflict(active)
    await write(trx)
    return toCanary(row)
  }
  try {
    await platform.db.transaction().execute(write)
  } catch (error) {
    if (isFreshetError(error)) throw error
    const active = await activeCanary(platform.db, pipeline)
    if (active !== undefined) throw conflict(active, error)
    throw error
  }
  return toCanary(row)
}

/**
 * Ends the active canary by an operator's decision: it stops getting traffic and `candidate` goes back to the
 * production version; recorded as `rolled-back` with the reason.
 * @throws FreshetError `CANARY_NOT_FOUND` when the pipeline has no active canary.
 */
export async function stopCanary(platform: Platform, options: { pipeline: string; actor: string; reason: string; now?: Date }): Promise<Canary> {
  const canary = await activeCanary(platform.db, options.pipeline)
  if (canary === undefined) throw new FreshetError('CANARY_NOT_FOUND', `pipeline ${options.pipeline} has no active canary`, { hint: `see its canaries: GET /api/v1/models/${options.pipeline}/canaries` })
  const ended = await endCanary(platform, canary, 'rolled-back', `stopped by ${options.actor}: ${options.reason}`, options.actor, null, options.now ?? new Date())
  if (ended === undefined) throw new FreshetError('CANARY_NOT_FOUND', `the canary of ${options.pipeline} v${canary.version} ended meanwhile`, { hint: 'look at its state again' })
  return ended
}

/**
 * Moves a canary from `active` to its end state with the decision, and the aliases with it, in one transaction:
 * promoted: `production` to the canary version (CAS); otherwise `candidate` back to production's version when it
 * still points at the canary. Undefined when another process ended it first.
 */
async function endCanary(platform: Platform, canary: Canary, state: Exclude<CanaryState, 'active'>, decision: string, decidedBy: string, evidence: CanaryEvidence | null, now: Date): Promise<Canary | undefined> {
  const at = now.toISOString()
  return platform.db.transaction().execute(async (trx) => {
    const updated = await trx
      .updateTable('canaries')
      .set({ state, decided_at: at, decided_by: decidedBy, decision, evidence: evidence === null ? null : JSON.stringify(evidence) })
      .where('id', '=', canary.id)
      .where('state', '=', 'active')
      .executeTakeFirst()
    if (Number(updated.numUpdatedRows) !== 1) return undefined
    const production = await platform.registry.alias(canary.pipeline, 'production', trx)
    if (state === 'promoted') {
      if (production !== canary.version) {
        await platform.registry.moveAlias({ pipeline: canary.pipeline, alias: 'production', version: canary.version, expected: production ?? null, actor: decidedBy, reason: decision, force: canary.forced }, trx)
      }
    } else {
      const candidate = await platform.registry.alias(canary.pipeline, 'candidate', trx)
      if (candidate === canary.version && production !== undefined) {
        await platform.registry.moveAlias({ pipeline: canary.pipeline, alias: 'candidate', version: production, expected: candidate, actor: decidedBy, reason: decision }, trx)
      }
    }
    const row = await trx.selectFrom('canaries').selectAll().where('id', '=', canary.id).executeTakeFirstOrThrow()
    return toCanary(row)
  })
}

/** The two arms of a canary from its start until `now`: the canary version against every other version served. */
export async function canaryEvidence(platform: Platform, canary: Canary, now: Date): Promise<CanaryEvidence> {
  const spec = pipelineSpecOf(platform, canary.pipeline)
  const until = new Date(Math.max(now.getTime(), Date.parse(canary.startedAt)) + 1)
  const parts = await onlineParts(platform.db, { pipeline: canary.pipeline, since: new Date(canary.startedAt), until })
  const candidate = [...parts.values()].filter((p) => p.version === canary.version)
  const production = [...parts.values()].filter((p) => p.version !== canary.version)
  return {
    since: canary.startedAt,
    until: until.toISOString(),
    metric: canaryPolicy(canary.pipeline, spec).metric,
    candidate: { versions: [canary.version], ...summarize(spec.task, candidate) },
    // Request counts are per minute, so versions that served just before the start may add requests, not predictions.
    production: { versions: production.filter((p) => p.served > 0).map((p) => p.version).sort((a, b) => a - b), ...summarize(spec.task, production) },
  }
}

/** What {@link checkCanaries} did with one active canary. */
export interface CanaryCheck {
  readonly pipeline: string
  readonly version: number
  readonly action: CanaryAction | 'error'
  readonly reason: string
  /** The canary after the check (undefined when the check failed). */
  readonly canary: Canary | undefined
}

/** Who the watcher records as the actor of automatic decisions. */
export const canaryWatcherActor = 'freshet canary watcher'

/**
 * Judges every active canary at `now` (see `judgeCanary`) and acts: rolls back, promotes, extends the bake once,
 * or ends it inconclusive; decisions are recorded on the canary and, for alias moves, in the alias history. Each
 * decision is a compare-and-swap on the canary's state, so several watchers may run. A canary that cannot be
 * judged (its pipeline left the config, an alias conflict) is reported as `error` and left active.
 */
export async function checkCanaries(platform: Platform, now: Date = new Date()): Promise<CanaryCheck[]> {
  const rows = await platform.db.selectFrom('canaries').selectAll().where('state', '=', 'active').orderBy('started_at').execute()
  const checks: CanaryCheck[] = []
  for (const canary of rows.map(toCanary)) {
    try {
      const spec = pipelineSpecOf(platform, canary.pipeline)
      const evidence = await canaryEvidence(platform, canary, now)
      const verdict = judgeCanary(canary, canaryPolicy(canary.pipeline, spec), evidence, now)
      let after: Canary | undefined = canary
      if (verdict.action === 'extend') {
        const bakeUntil = new Date(Date.parse(canary.bakeUntil) + canary.bakeMs).toISOString()
        await platform.db.updateTable('canaries').set({ bake_until: bakeUntil, extensions: canary.extensions + 1, decision: verdict.reason }).where('id', '=', canary.id).where('state', '=', 'active').where('extensions', '=', canary.extensions).execute()
        after = await activeCanary(platform.db, canary.pipeline)
      } else if (verdict.action !== 'continue') {
        const state = verdict.action === 'promote' ? 'promoted' : verdict.action === 'rollback' ? 'rolled-back' : 'inconclusive'
        after = await endCanary(platform, canary, state, verdict.reason, canaryWatcherActor, evidence, now)
      }
      checks.push({ pipeline: canary.pipeline, version: canary.version, action: verdict.action, reason: verdict.reason, canary: after })
    } catch (error) {
      const message = isFreshetError(error) ? error.describe() : (error as Error).message
      checks.push({ pipeline: canary.pipeline, version: canary.version, action: 'error', reason: `could not judge the canary of ${canary.pipeline} v${canary.version}: ${message}`, canary: undefined })
    }
  }
  return checks
}

export interface CanaryWatcherOptions {
  /** Time between checks; default 5 s. */
  readonly intervalMs?: number
  /** Called for every check that changed something (not `continue`). */
  readonly onDecision?: (check: CanaryCheck) => void
  /** Called when a whole check failed (the database was unreachable); the next one runs as planned. */
  readonly onError?: (error: unknown) => void
}

/**
 * Runs {@link checkCanaries} every `intervalMs` until the returned function is called; that function resolves
 * once a check in progress has finished.
 * @example const stop = startCanaryWatcher(platform, { intervalMs: 5000, onDecision: (c) => log.info(c.reason) }); ... await stop()
 */
export function startCanaryWatcher(platform: Platform, options: CanaryWatcherOptions = {}): () => Promise<void> {
  const intervalMs = options.intervalMs ?? 5000
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  const tick = async (): Promise<void> => {
    try {
      for (const check of await checkCanaries(platform)) if (check.action !== 'continue') options.onDecision?.(check)
    } catch (error) {
      if (options.onError === undefined) console.error(`canary watcher: ${(error as Error).message}`)
      else options.onError(error)
    }
  }
  const schedule = (): void => {
    timer = setTimeout(() => {
      running = tick().finally(() => {
        running = undefined
        if (!stopped) schedule()
      })
    }, intervalMs)
  }
  schedule()
  return async () => {
    stopped = true
    clearTimeout(timer)
    await running
  }
}
