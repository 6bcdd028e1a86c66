import { FreshetError } from '../core/errors.js'
import { isDuration, parseDuration } from '../core/durations.js'
import { assertName } from '../core/names.js'
import type { AliasMove, ModelVersion, Registry } from './registry.js'

/** Longest reason recorded with an alias move. */
export const maxReasonLength = 500

/** What an operator's deploy or rollback did. */
export interface DeployOutcome {
  readonly pipeline: string
  readonly alias: string
  /** The version the alias pointed at before (null: none). */
  readonly from: number | null
  readonly to: number
  /** False when the alias already pointed at `to`: nothing was written. */
  readonly changed: boolean
  /** True when a version that failed its gate was deployed with `force`. */
  readonly forced: boolean
  /** The recorded move, or null when nothing changed. */
  readonly move: AliasMove | null
}

export interface DeployRequest {
  readonly pipeline: string
  /** Default `production`. */
  readonly alias?: string
  readonly version: number
  /**
   * The version the caller expects the alias to point at now (null: no version). Undefined means "what it points
   * at when read here"; either way the move is a compare-and-swap on it.
   */
  readonly expected?: number | null
  readonly actor: string
  /** Why; required for `production` and with `force`. */
  readonly reason?: string
  /** Deploy a version that failed its gate (recorded in the reason). */
  readonly force?: boolean
}

export interface RollbackRequest {
  readonly pipeline: string
  /** Default: the version `production` pointed at before its current one that did not fail its gate. */
  readonly to?: number
  /** The version the caller expects `production` to point at now; default: what it points at when read here. */
  readonly expected?: number
  readonly actor: string
  readonly reason: string
}

/**
 * The reason to record: trimmed, one line, bounded.
 * @throws FreshetError `USAGE` when it is missing but `required`, too long, or holds control characters.
 */
export function checkReason(reason: string | undefined, required: string | undefined): string {
  const text = (reason ?? '').trim()
  if (text === '') {
    if (required !== undefined)
      throw new FreshetError('USAGE', `a reason is required ${required}; nothing was changed`, {
        hint: 'say why with --reason "<text>" (HTTP: "reason"); it is recorded in the alias history',
      })
    return ''
  }
  if (text.length > maxReasonLength)
    throw new FreshetError(
      'USAGE',
      `the reason is ${text.length} characters long; at most ${maxReasonLength} are recorded; nothing was changed`,
    )
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(text))
    throw new FreshetError(
      'USAGE',
      'the reason must be one line of text without control characters; nothing was changed',
    )
  return text
}

/**
 * Points an alias (default `production`) at a version by compare-and-swap, as an operator: a reason is required
 * for `production`, and a version that failed its gate needs `force` and a reason, both recorded. Moving an alias
 * to the version it already points at changes and records nothing.
 * @throws FreshetError `USAGE`, `MODEL_NOT_FOUND`, `MODEL_REJECTED` (failed its gate, no force), `ALIAS_CONFLICT`
 * (the alias does not point at `expected`, or moved between the read and the write).
 */
export async function deployVersion(registry: Registry, request: DeployRequest): Promise<DeployOutcome> {
  const { pipeline, version } = request
  const alias = assertName('alias', request.alias ?? 'production')
  const force = request.force === true
  const reason = checkReason(
    request.reason,
    alias === 'production' ? 'to move production' : force ? 'with --force' : undefined,
  )
  const target = await registry.version(pipeline, version)
  if (target.status === 'rejected' && !force) {
    throw new FreshetError(
      'MODEL_REJECTED',
      `${pipeline} v${version} failed its gate${gateReasons(target)} and is not deployed; nothing was changed`,
      {
        hint: `deploy it anyway only with --force and --reason "<why>" (HTTP: "force": true), which is recorded`,
      },
    )
  }
  const expected =
    request.expected !== undefined ? request.expected : ((await registry.alias(pipeline, alias)) ?? null)
  if (expected === version && (await registry.alias(pipeline, alias)) === version) {
    return { pipeline, alias, from: version, to: version, changed: false, forced: false, move: null }
  }
  const forced = force && target.status === 'rejected'
  const recorded = forced
    ? `forced past its failed gate: ${reason}`
    : reason === ''
      ? `deployed by ${request.actor}`
      : reason
  const move = await registry.moveAlias({
    pipeline,
    alias,
    version,
    expected,
    actor: request.actor,
    reason: recorded,
    force: forced,
  })
  return { pipeline, alias, from: expected, to: version, changed: true, forced, move }
}

/**
 * Moves `production` back, by compare-and-swap, with a recorded reason: to `to`, or else to the version it
 * pointed at before its current one (see {@link rollbackTargets}) that did not fail its gate.
 * @throws FreshetError `USAGE`, `MODEL_NOT_FOUND` (no production model, or nothing earlier to go back to),
 * `MODEL_REJECTED` (`to` failed its gate), `ALIAS_CONFLICT`.
 */
export async function rollbackProduction(
  registry: Registry,
  request: RollbackRequest,
): Promise<DeployOutcome> {
  const { pipeline } = request
  const reason = checkReason(request.reason, 'to roll back')
  const [history, versions] = await Promise.all([registry.history(pipeline), registry.versions(pipeline)])
  const stack = rollbackTargets(history)
  // The history and the alias are written in one transaction, so the history's last word is the alias's value;
  // the compare-and-swap below still refuses if production moved since this read.
  const current = request.expected ?? stack.at(-1)
  if (request.expected !== undefined && request.expected !== stack.at(-1)) {
    const actual = stack.at(-1)
    throw new FreshetError(
      'ALIAS_CONFLICT',
      `${pipeline}/production points at ${actual === undefined ? 'no version' : `v${actual}`}, not v${request.expected} as expected; nothing was changed`,
      {
        hint: 'someone else moved it: look at `freshet models` and try again',
      },
    )
  }
  if (current === undefined) {
    throw new FreshetError(
      'MODEL_NOT_FOUND',
      `${pipeline} has no production model, so there is nothing to roll back; nothing was changed`,
      { hint: `deploy a version with \`freshet deploy ${pipeline} <version> --reason "<why>"\`` },
    )
  }
  const status = new Map(versions.map((v) => [v.version, v]))
  let to = request.to
  if (to === undefined) {
    to = stack
      .slice(0, -1)
      .reverse()
      .find((v) => v !== current && status.get(v)?.status !== 'rejected')
    if (to === undefined) {
      throw new FreshetError(
        'MODEL_NOT_FOUND',
        `production of ${pipeline} points at v${current} and there is no earlier version that passed its gate to roll back to; nothing was changed`,
        {
          hint: `name one with --to <version> (HTTP: "to"); \`freshet models ${pipeline}\` lists them`,
        },
      )
    }
  } else if (to === current) {
    throw new FreshetError(
      'USAGE',
      `production of ${pipeline} already points at v${to}; nothing was changed`,
      { hint: `\`freshet models ${pipeline}\` shows the versions and the alias history` },
    )
  }
  const target = status.get(to) ?? (await registry.version(pipeline, to))
  if (target.status === 'rejected') {
    throw new FreshetError(
      'MODEL_REJECTED',
      `${pipeline} v${to} failed its gate${gateReasons(target)}, so it is not a rollback target; nothing was changed`,
      {
        hint: `roll back to a version that passed its gate, or deploy this one with \`freshet deploy ${pipeline} ${to} --force --reason "<why>"\``,
      },
    )
  }
  const move = await registry.moveAlias({
    pipeline,
    alias: 'production',
    version: to,
    expected: current,
    actor: request.actor,
    reason: /^rollback\b/i.test(reason) ? reason : `rollback: ${reason}`,
  })
  return { pipeline, alias: 'production', from: current, to, changed: true, forced: false, move }
}

/**
 * The versions `production` went through that a rollback may return to, oldest first, ending with the current
 * one. The history is replayed as a stack: a move pushes its version, and a move back to a version on the stack
 * (a rollback, or a redeploy of an older version) pops everything above it. So rolling back twice from v3 after
 * deploying v1, v2, v3 goes to v2 then v1, never back to the version just rolled back from.
 */
export function rollbackTargets(history: readonly AliasMove[], alias = 'production'): number[] {
  let stack: number[] = []
  for (const move of history) {
    if (move.alias !== alias) continue
    if (move.toVersion === null) {
      stack = []
      continue
    }
    const at = stack.indexOf(move.toVersion)
    if (at >= 0) stack = stack.slice(0, at + 1)
    else stack.push(move.toVersion)
  }
  return stack
}

/**
 * A point in time given by an operator: an ISO date or time (`2025-03-01`, `2025-03-01T10:00:00Z`; without a
 * zone, local time) or a duration ago (`90s`, `2h`, `7d`).
 * @throws FreshetError `USAGE` for anything else.
 */
export function parsePointInTime(text: string, now = Date.now()): Date {
  const trimmed = text.trim()
  if (isDuration(trimmed)) return new Date(now - parseDuration(trimmed))
  const at = /^\d{4}-\d{2}-\d{2}/.test(trimmed) ? new Date(trimmed) : new Date(Number.NaN)
  if (Number.isNaN(at.getTime())) {
    throw new FreshetError(
      'USAGE',
      `expected a time like 2025-03-01T10:00:00Z or a duration ago like 2h or 7d, got ${JSON.stringify(text)}`,
    )
  }
  return at
}

function gateReasons(model: ModelVersion): string {
  const gate = model.lineage.gate as { reasons?: unknown } | undefined
  const reasons = Array.isArray(gate?.reasons)
    ? gate.reasons.filter((r): r is string => typeof r === 'string')
    : []
  return reasons.length === 0 ? '' : ` (${reasons.join('; ')})`
}
