import { readFile } from 'node:fs/promises'
import * as z from 'zod'
import { FreshetError } from '../../core/errors.js'

/** What a command may report in its metrics file: a flat JSON object of finite numbers, e.g. `{"test-logloss": 0.31}`. */
const reportedMetrics = z.record(z.string().min(1).max(200), z.number({ error: 'expected a number' }))

/**
 * The metrics the command wrote to `file`, or null when it wrote none. They are recorded with the model; the gate
 * uses Freshet's own evaluation on the holdout.
 * @throws FreshetError `TRAINING_FAILED` naming the file and the field when the file is not such an object.
 */
export async function readReportedMetrics(file: string): Promise<Record<string, number> | null> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw error
  }
  const hint = 'write a JSON object of numbers, e.g. {"test-logloss": 0.31}, to $FRESHET_METRICS_FILE'
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    throw new FreshetError('TRAINING_FAILED', `the metrics file ${file} is not JSON (${error instanceof Error ? error.message : String(error)})`, { hint })
  }
  const parsed = reportedMetrics.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const field = issue === undefined || issue.path.length === 0 ? 'its top level' : `field ${JSON.stringify(issue.path.join('.'))}`
    throw new FreshetError('TRAINING_FAILED', `the metrics file ${file}: ${field}: ${issue?.message ?? 'invalid'}`, { hint })
  }
  return parsed.data
}
