import type { PipelineSpec } from '../config/schema.js'
import { formatDuration, parseDuration } from '../core/durations.js'
import { FreshetError } from '../core/errors.js'
import type { MetadataDb } from '../storage/metadata/database.js'

/** At most this many labels in one feedback request. */
export const maxFeedbackItems = 1000
/** Labels are accepted up to this long after the prediction unless `deploy.feedback.horizon` says otherwise. */
export const defaultFeedbackHorizon = '7d'

export interface FeedbackItem {
  readonly predictionId: string
  readonly label: number
}

export interface FeedbackResult {
  /** Labels newly joined to their prediction. */
  recorded: number
  /** Labels the prediction already had (the same value sent again): accepted, nothing changed. */
  unchanged: number
}

/** The feedback horizon of a pipeline in milliseconds. */
export function feedbackHorizonMs(spec: PipelineSpec): number {
  return parseDuration(spec.deploy?.feedback?.horizon ?? defaultFeedbackHorizon)
}

/**
 * Reads a feedback body: `{"predictionId": "...", "label": ...}` or `{"feedback": [{...}, ...]}` (at most
 * {@link maxFeedbackItems}). Labels are 0/1 (or true/false) for binary pipelines, finite numbers for regression.
 * @throws FreshetError `USAGE` naming the item and field, `INPUT_TOO_LARGE` for too many items.
 */
export function parseFeedback(body: unknown, task: 'binary' | 'regression', pipeline: string): FeedbackItem[] {
  const shape = 'the body must be {"predictionId": "...", "label": ...} or {"feedback": [{"predictionId": "...", "label": ...}, ...]}'
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new FreshetError('USAGE', shape)
  const single = !('feedback' in body)
  const raw: unknown[] = single ? [body] : Array.isArray(body.feedback) ? (body.feedback as unknown[]) : []
  if (!single && (!Array.isArray(body.feedback) || raw.length === 0)) throw new FreshetError('USAGE', `feedback: expected a non-empty array; ${shape}`)
  if (raw.length > maxFeedbackItems) throw new FreshetError('INPUT_TOO_LARGE', `feedback: at most ${maxFeedbackItems} labels per request, got ${raw.length}`)
  return raw.map((item, index) => {
    const where = single ? '' : `feedback[${index}]`
    const at = (field: string) => (where === '' ? field : `${where}.${field}`)
    if (item === null || typeof item !== 'object' || Array.isArray(item)) throw new FreshetError('USAGE', `${where}: expected an object {"predictionId": "...", "label": ...}`)
    const { predictionId, label } = item as { predictionId?: unknown; label?: unknown }
    if (typeof predictionId !== 'string' || predictionId.length === 0 || predictionId.length > 40) {
      throw new FreshetError('USAGE', `${at('predictionId')}: expected the id of a prediction (a string from predictionIds of a :predict answer), got ${JSON.stringify(predictionId) ?? 'nothing'}`)
    }
    let value: number
    if (task === 'binary') {
      value = label === true ? 1 : label === false ? 0 : (label as number)
      if (value !== 0 && value !== 1) throw new FreshetError('USAGE', `${at('label')}: pipeline ${pipeline} is binary, so a label is 0 or 1 (or false/true), got ${JSON.stringify(label) ?? 'nothing'}`)
    } else {
      value = label as number
      if (typeof label !== 'number' || !Number.isFinite(label)) throw new FreshetError('USAGE', `${at('label')}: pipeline ${pipeline} is a regression, so a label is a finite number, got ${JSON.stringify(label) ?? 'nothing'}`)
    }
    return { predictionId, label: value }
  })
}

/**
 * Joins labels to logged predictions, all or nothing, in one transaction. Sending the same label again for a
 * prediction is accepted and changes nothing (so clients may retry); a different one is a conflict.
 * @throws FreshetError `PREDICTION_NOT_FOUND` for an id the pipeline never logged, `FEEDBACK_TOO_LATE` for a
 * prediction served longer than `horizonMs` ago, `FEEDBACK_CONFLICT` for a prediction that has another label;
 * each names the item, and nothing was recorded.
 */
export async function recordFeedback(db: MetadataDb, pipeline: string, items: readonly FeedbackItem[], options: { now: Date; horizonMs: number; horizon: string }): Promise<FeedbackResult> {
  const at = options.now.toISOString()
  const cutoff = new Date(options.now.getTime() - options.horizonMs).toISOString()
  const label = (index: number) => (items.length === 1 ? 'prediction' : `feedback[${index}]: prediction`)
  return db.transaction().execute(async (trx) => {
    // Writes first (SQLite takes the write lock at once instead of upgrading a read lock), then explain misses.
    const changed: boolean[] = []
    for (const item of items) {
      const result = await trx
        .updateTable('predictions')
        .set({ label: item.label, labelled_at: at })
        .where('id', '=', item.predictionId)
        .where('pipeline', '=', pipeline)
        .where('label', 'is', null)
        .where('served_at', '>=', cutoff)
        .executeTakeFirst()
      changed.push(Number(result.numUpdatedRows) === 1)
    }
    const missed = [...new Set(items.filter((_, i) => changed[i] !== true).map((item) => item.predictionId))]
    const rows = new Map<string, { served_at: string; label: number | null }>()
    for (let start = 0; start < missed.length; start += 500) {
      const found = await trx.selectFrom('predictions').select(['id', 'served_at', 'label']).where('pipeline', '=', pipeline).where('id', 'in', missed.slice(start, start + 500)).execute()
      for (const row of found) rows.set(row.id, { served_at: row.served_at, label: row.label === null ? null : Number(row.label) })
    }
    let unchanged = 0
    items.forEach((item, index) => {
      if (changed[index] === true) return
      const row = rows.get(item.predictionId)
      if (row === undefined) {
        throw new FreshetError('PREDICTION_NOT_FOUND', `${label(index)} ${item.predictionId} was never served by pipeline ${pipeline}; nothing was recorded`, {
          hint: 'send the id from predictionIds of a POST /v1/models/{pipeline}:predict answer, to the same pipeline',
        })
      }
      if (row.label === null) {
        const age = options.now.getTime() - Date.parse(row.served_at)
        throw new FreshetError('FEEDBACK_TOO_LATE', `${label(index)} ${item.predictionId} was served ${formatDuration(age)} ago (at ${row.served_at}), beyond the feedback horizon of ${options.horizon} of pipeline ${pipeline}; nothing was recorded`, {
          hint: `drop this label, or raise pipelines.${pipeline}.deploy.feedback.horizon in freshet.config.ts to accept older ones`,
        })
      }
      if (row.label !== item.label) {
        throw new FreshetError('FEEDBACK_CONFLICT', `${label(index)} ${item.predictionId} already has the label ${row.label}, not ${item.label}; a label is recorded once and nothing was recorded`, {
          hint: 'labels cannot be changed; sending the same label again is accepted',
        })
      }
      unchanged++
    })
    return { recorded: changed.filter(Boolean).length, unchanged }
  })
}
