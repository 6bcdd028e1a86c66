import { randomUUID } from 'node:crypto'
import type { Platform } from '../app/platform.js'
import type { MetadataDb } from '../storage/metadata/database.js'
import { conditionVariables, evaluateCondition } from './expression.js'
import type { MonitorRule } from './settings.js'

export type RuleState = 'ok' | 'pending' | 'firing'

/** The stored state of a rule. */
export interface RuleStatus {
  readonly rule: string
  readonly state: RuleState
  /** When its condition became true (pending, firing). */
  readonly since: string | null
  readonly values: Record<string, number | null>
  readonly changedAt: string
}

/** A recorded transition of a rule. */
export interface RuleEvent {
  readonly id: string
  readonly pipeline: string
  readonly rule: string
  readonly transition: 'firing' | 'resolved'
  readonly condition: string
  /** The variables the condition reads, as they were, plus the window they came from. */
  readonly values: Record<string, unknown>
  /** What each action did. */
  readonly actions: readonly ActionResult[]
  readonly at: string
}

export interface ActionResult {
  readonly action: 'alert' | 'retrain' | 'rollback'
  readonly ok: boolean
  readonly detail: string
  /** retrain: the run; rollback: from and to; alert: the webhook delivery. */
  readonly data?: Record<string, unknown>
}

/** A decided step of one rule: what changed (if anything) at this evaluation. */
export interface RuleStep {
  readonly rule: MonitorRule
  readonly before: RuleStatus | undefined
  readonly after: RuleStatus
  readonly transition: 'firing' | 'resolved' | null
  /** The values the condition read. */
  readonly values: Record<string, number | null>
}

/**
 * The next state of a rule: `ok` -> `pending` when its condition becomes true (straight to `firing` with no
 * `for`), `pending` -> `firing` once it has held for `for`, and `firing`/`pending` -> `ok` when it is false again
 * (`firing` -> `ok` is the `resolved` transition).
 */
export function stepRule(
  rule: MonitorRule,
  before: RuleStatus | undefined,
  variables: Readonly<Record<string, number | null>>,
  now: Date,
): RuleStep {
  const values = Object.fromEntries(
    conditionVariables(rule.condition).map((name) => [name, variables[name] ?? null]),
  )
  const holds = evaluateCondition(rule.condition, variables)
  const at = now.toISOString()
  const state = before?.state ?? 'ok'
  const keep = (): RuleStep => ({
    rule,
    before,
    after: before ?? { rule: rule.name, state: 'ok', since: null, values, changedAt: at },
    transition: null,
    values,
  })
  if (holds) {
    if (state === 'firing') return keep()
    const since = state === 'pending' && before?.since != null ? before.since : at
    const fires = now.getTime() - Date.parse(since) >= rule.forMs
    if (!fires && state === 'pending') return keep()
    return {
      rule,
      before,
      after: { rule: rule.name, state: fires ? 'firing' : 'pending', since, values, changedAt: at },
      transition: fires ? 'firing' : null,
      values,
    }
  }
  if (state === 'ok') return keep()
  return {
    rule,
    before,
    after: { rule: rule.name, state: 'ok', since: null, values, changedAt: at },
    transition: state === 'firing' ? 'resolved' : null,
    values,
  }
}

/** The stored states of a pipeline's rules. */
export async function ruleStates(db: MetadataDb, pipeline: string): Promise<Map<string, RuleStatus>> {
  const rows = await db.selectFrom('monitor_rules').selectAll().where('pipeline', '=', pipeline).execute()
  return new Map(
    rows.map((r) => [
      r.rule,
      {
        rule: r.rule,
        state: r.state as RuleState,
        since: r.since,
        values: JSON.parse(r.values) as Record<string, number | null>,
        changedAt: r.changed_at,
      },
    ]),
  )
}

/**
 * Writes a step's new state by compare-and-swap on the state read before it. False when another monitor process
 * changed it meanwhile: then that process owns the transition and its actions.
 */
export async function saveRuleStep(db: MetadataDb, pipeline: string, step: RuleStep): Promise<boolean> {
  if (step.before === step.after) return true
  const row = {
    state: step.after.state,
    since: step.after.since,
    values: JSON.stringify(step.values),
    changed_at: step.after.changedAt,
  }
  if (step.before === undefined) {
    const inserted = await db
      .insertInto('monitor_rules')
      .values({ pipeline, rule: step.rule.name, ...row })
      .onConflict((oc) => oc.columns(['pipeline', 'rule']).doNothing())
      .executeTakeFirst()
    return Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1
  }
  const updated = await db
    .updateTable('monitor_rules')
    .set(row)
    .where('pipeline', '=', pipeline)
    .where('rule', '=', step.rule.name)
    .where('state', '=', step.before.state)
    .where('changed_at', '=', step.before.changedAt)
    .executeTakeFirst()
  return Number(updated.numUpdatedRows) === 1
}

export async function recordEvent(db: MetadataDb, event: Omit<RuleEvent, 'id'>): Promise<RuleEvent> {
  const recorded = { id: randomUUID(), ...event }
  await db
    .insertInto('monitor_events')
    .values({
      id: recorded.id,
      pipeline: event.pipeline,
      rule: event.rule,
      transition: event.transition,
      condition: event.condition,
      values: JSON.stringify(event.values),
      actions: JSON.stringify(event.actions),
      at: event.at,
    })
    .execute()
  return recorded
}

/** A pipeline's rule transitions, newest first. */
export async function ruleEvents(platform: Platform, pipeline: string, limit = 50): Promise<RuleEvent[]> {
  const rows = await platform.db
    .selectFrom('monitor_events')
    .selectAll()
    .where('pipeline', '=', pipeline)
    .orderBy('at', 'desc')
    .orderBy('id')
    .limit(limit)
    .execute()
  return rows.map((r) => ({
    id: r.id,
    pipeline: r.pipeline,
    rule: r.rule,
    transition: r.transition as RuleEvent['transition'],
    condition: r.condition,
    values: JSON.parse(r.values) as Record<string, unknown>,
    actions: JSON.parse(r.actions) as ActionResult[],
    at: r.at,
  }))
}
