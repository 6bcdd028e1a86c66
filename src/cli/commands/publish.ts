import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { createInterface } from 'node:readline'
import type { Command } from 'commander'
import type { Platform } from '../../app/platform.js'
import { parseDuration } from '../../core/durations.js'
import { errnoCode, FreshetError, isFreshetError } from '../../core/errors.js'
import {
  deadLetterTopic,
  parseNdjson,
  publishIncoming,
  topicOverview,
  type IncomingEvent,
  type PublishResult,
} from '../../streaming/topics.js'
import { printJson, withPlatform, type GlobalOptions } from '../context.js'
import { formatNumber } from '../table.js'

/** Most lines sent per append: bounds memory whatever the size of the file. */
const linesPerBatch = 1000

interface Totals {
  accepted: number
  deadLettered: number
  duplicates: number
  first: number | null
  last: number | null
  problems: PublishResult['problems']
}

export function registerPublish(program: Command): void {
  program
    .command('publish')
    .description(
      "publish the events of a JSON Lines file to a topic; events that do not fit the topic's schema go to <topic>.dead-letter with the reasons (exit code 3 when some did). Publishing the same file again stores nothing twice",
    )
    .argument('<topic>', 'topic name, as declared under topics in freshet.config.ts')
    .argument('<file>', 'a JSON Lines file: one event (a JSON object) per line')
    .option(
      '--wait <duration>',
      'when the topic is full (its consumers lag), keep retrying for up to this long (e.g. 30s, 5m) instead of failing',
    )
    .option('--json', 'print the result as JSON')
    .action(
      async (topic: string, file: string, options: { wait?: string; json?: boolean }, command: Command) => {
        const waitMs = options.wait === undefined ? 0 : waitOption(options.wait)
        const totals: Totals = {
          accepted: 0,
          deadLettered: 0,
          duplicates: 0,
          first: null,
          last: null,
          problems: [],
        }
        await withPlatform(command.optsWithGlobals<GlobalOptions>(), async (platform) => {
          // Batches never larger than the topic's backlog bound, which a larger one could never fit.
          const perBatch = Math.min(linesPerBatch, (await topicOverview(platform, topic)).maxBacklog)
          // The file's digest names its events (`file:<sha256>#<line>`), so a second run recognises what it published.
          const key = `file:${await sha256(file)}`
          let line = 0
          let batch: IncomingEvent[] = []
          const flush = async (): Promise<void> => {
            if (batch.length === 0) return
            const result = await publishWithWait(platform, topic, batch, key, waitMs, totals, file)
            add(totals, result)
            batch = []
          }
          for await (const text of lines(file)) {
            line += 1
            batch.push(...parseNdjson(text, line))
            if (batch.length >= perBatch) await flush()
          }
          await flush()
        })
        const summary = { topic, file, ...totals, deadLetterTopic: deadLetterTopic(topic) }
        if (options.json === true) printJson(summary)
        else print(summary)
        if (totals.deadLettered > 0) process.exitCode = 3
      },
    )
}

function waitOption(text: string): number {
  try {
    return parseDuration(text)
  } catch {
    throw new FreshetError('USAGE', `--wait: expected a duration like 30s or 5m, got ${JSON.stringify(text)}`)
  }
}

async function publishWithWait(
  platform: Platform,
  topic: string,
  batch: IncomingEvent[],
  key: string,
  waitMs: number,
  totals: Totals,
  file: string,
): Promise<PublishResult> {
  const deadline = Date.now() + waitMs
  for (let delay = 100; ; delay = Math.min(delay * 2, 5_000)) {
    try {
      return await publishIncoming(platform, topic, batch, { idempotencyKey: key })
    } catch (error) {
      if (!isFreshetError(error, 'OVERLOADED')) throw error
      if (Date.now() + delay > deadline) {
        const firstLine = batch[0]?.line ?? 0
        throw new FreshetError(
          'OVERLOADED',
          `${error.message}. ${file}: ${formatNumber(totals.accepted + totals.deadLettered)} events before line ${firstLine} were published, the rest were not`,
          {
            cause: error,
            hint: 'run the same command again once the consumers have caught up (what was published is recognised and not stored twice), or pass --wait 5m',
          },
        )
      }
      await sleep(delay)
    }
  }
}

function add(totals: Totals, result: PublishResult): void {
  totals.accepted += result.accepted
  totals.deadLettered += result.deadLettered
  totals.duplicates += result.duplicates
  if (result.offsets !== null) {
    totals.first = Math.min(totals.first ?? result.offsets.first, result.offsets.first)
    totals.last = Math.max(totals.last ?? result.offsets.last, result.offsets.last)
  }
  for (const problem of result.problems) if (totals.problems.length < 20) totals.problems.push(problem)
}

function print(summary: Totals & { topic: string; file: string; deadLetterTopic: string }): void {
  const offsets = summary.first === null ? '' : ` (offsets ${summary.first}-${summary.last})`
  const again =
    summary.duplicates > 0
      ? `; ${formatNumber(summary.duplicates)} were already published and not stored again`
      : ''
  process.stdout.write(
    `published  ${summary.file} -> topic ${summary.topic}: ${formatNumber(summary.accepted)} events accepted${offsets}${again}\n`,
  )
  if (summary.deadLettered === 0) return
  process.stdout.write(
    `DEAD-LETTERED ${formatNumber(summary.deadLettered)} events that do not fit the topic's schema, kept with the reasons in topic ${summary.deadLetterTopic}:\n`,
  )
  for (const problem of summary.problems) {
    const reasons = problem.reasons.map((r) => `${r.field}: expected ${r.expected}, got ${r.got}`).join('; ')
    process.stdout.write(`           line ${problem.line ?? '?'}: ${reasons}\n`)
  }
  if (summary.deadLettered > summary.problems.length)
    process.stdout.write(
      `           ... and ${formatNumber(summary.deadLettered - summary.problems.length)} more\n`,
    )
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256')
  try {
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer)
  } catch (error) {
    throw notReadable(file, error)
  }
  return hash.digest('hex')
}

async function* lines(file: string): AsyncGenerator<string> {
  const input = createReadStream(file, { encoding: 'utf8' })
  try {
    yield* createInterface({ input, crlfDelay: Infinity })
  } catch (error) {
    throw notReadable(file, error)
  } finally {
    input.destroy()
  }
}

function notReadable(file: string, error: unknown): FreshetError {
  return errnoCode(error) === 'ENOENT'
    ? new FreshetError('FILE_NOT_FOUND', `${file}: no such file`, { cause: error })
    : new FreshetError('INPUT_MALFORMED', `${file}: cannot be read (${(error as Error).message})`, {
        cause: error,
      })
}
