import type { Platform } from '../app/platform.js'
import type { LoadedConfig } from '../config/load.js'
import type { TopicSpec } from '../config/schema.js'
import { parseDuration } from '../core/durations.js'
import { FreshetError } from '../core/errors.js'
import { assertName, didYouMean } from '../core/names.js'
import { parseSize } from '../core/sizes.js'
import {
  defaultEventLogLimits,
  type ConsumerInfo,
  type EventLogLimits,
  type NewEvent,
} from '../storage/log/event-log.js'

/** Largest JSON of one event unless the topic says otherwise. */
export const defaultMaxEventBytes = 64 * 1024
/** Longest idempotency key: message ids are `<key>#<index>` and must fit the log's 255 characters. */
export const maxIdempotencyKeyLength = 200
/** At most this many rejected events are described one by one in a publish answer (all are dead-lettered). */
const maxProblemsShown = 20

/** Where events that fail a topic's schema go, with the reasons. */
export const deadLetterTopic = (topic: string): string => `${topic}.dead-letter`

/** Why one event was rejected: the field (or `(event)` for the whole event), what was expected and what came. */
export interface EventProblem {
  readonly field: string
  readonly expected: string
  readonly got: string
}

/** What a dead-letter topic holds for each rejected event: the original and every reason. */
export interface DeadLetter {
  readonly topic: string
  readonly reasons: EventProblem[]
  /** The event as received, when it was JSON. */
  readonly event?: unknown
  /** The line as received, when it was not JSON. */
  readonly raw?: string
  /** Its 1-based line (NDJSON, files) or 0-based index (arrays). */
  readonly line?: number
  readonly index?: number
}

/** One incoming event: a JSON value, or a line of NDJSON that did not parse. */
export type IncomingEvent =
  | { readonly value: unknown; readonly line?: number }
  | { readonly raw: string; readonly line: number; readonly error: string }

export interface OffsetRange {
  readonly first: number
  readonly last: number
}

export interface PublishResult {
  readonly topic: string
  /** Events that passed the schema and are in the topic (duplicates of stored ones included). */
  readonly accepted: number
  /** Events set aside in the dead-letter topic, with their reasons. */
  readonly deadLettered: number
  /** Events already stored under the same message id (a retried publish): not stored twice. */
  readonly duplicates: number
  /** Offsets of the accepted events in the topic. */
  readonly offsets: OffsetRange | null
  readonly deadLetter: { readonly topic: string; readonly offsets: OffsetRange | null }
  /** The first rejected events and why (every one of them is in the dead-letter topic). */
  readonly problems: { readonly line?: number; readonly index?: number; readonly reasons: EventProblem[] }[]
}

export interface PublishOptions {
  /**
   * Makes the publish idempotent: event i gets the message id `<key>#<i + firstIndex>` (`<key>#<line>` for NDJSON
   * lines), so publishing the same events with the same key again stores nothing twice (a retry after a 429 or a
   * lost answer is safe).
   */
  readonly idempotencyKey?: string
  /** Added to each event's position in its message id (a file's line number, for a file sent in parts). */
  readonly firstIndex?: number
}

/** The topic's spec. @throws FreshetError `TOPIC_NOT_FOUND` with a did-you-mean. */
export function topicSpecOf(config: LoadedConfig, name: string): TopicSpec {
  assertName('topic', name)
  const topics = config.config.topics ?? {}
  const spec = topics[name]
  if (spec !== undefined) return spec
  const known = Object.keys(topics)
  const guess = didYouMean(name, known)
  throw new FreshetError(
    'TOPIC_NOT_FOUND',
    `topic ${JSON.stringify(name)} is not declared${guess === undefined ? '' : `; did you mean ${JSON.stringify(guess)}?`}`,
    {
      hint:
        known.length === 0
          ? 'declare it under topics in freshet.config.ts, with the schema of its events'
          : `declared topics: ${known.join(', ')}`,
    },
  )
}

/** The log limits the configuration sets, per topic (a dead-letter topic shares its topic's bound). */
export function topicLimits(config: LoadedConfig): (topic: string) => Partial<EventLogLimits> | undefined {
  const topics = config.config.topics ?? {}
  return (topic) => {
    const spec = topics[topic.endsWith('.dead-letter') ? topic.slice(0, -'.dead-letter'.length) : topic]
    return spec?.maxBacklog === undefined ? undefined : { maxBacklog: spec.maxBacklog }
  }
}

const isoTimestamp = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/

function show(value: unknown): string {
  if (value === undefined) return 'nothing'
  const json = JSON.stringify(value)
  const text = json.length > 60 ? `${json.slice(0, 57)}...` : json
  return Array.isArray(value) ? `an array ${text}` : value === null ? 'null' : `${typeof value} ${text}`
}

const expectedOf: Record<TopicSpec['schema'][string], string> = {
  string: 'string',
  number: 'number',
  boolean: 'boolean',
  timestamp: 'timestamp (an ISO 8601 string like 2030-01-31T12:00:00Z)',
}

function fits(type: TopicSpec['schema'][string], value: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string'
    case 'number':
      return typeof value === 'number' && Number.isFinite(value)
    case 'boolean':
      return typeof value === 'boolean'
    case 'timestamp':
      return typeof value === 'string' && isoTimestamp.test(value) && Number.isFinite(Date.parse(value))
  }
}

/** Every reason `event` does not fit `spec` (empty when it does). */
export function checkEvent(spec: TopicSpec, event: unknown): EventProblem[] {
  const maxBytes = maxEventBytesOf(spec)
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    return [{ field: '(event)', expected: 'a JSON object', got: show(event) }]
  }
  const bytes = Buffer.byteLength(JSON.stringify(event))
  if (bytes > maxBytes)
    return [{ field: '(event)', expected: `at most ${maxBytes} bytes of JSON`, got: `${bytes} bytes` }]
  const record = event as Record<string, unknown>
  const fields = Object.keys(spec.schema)
  const problems: EventProblem[] = []
  for (const [field, type] of Object.entries(spec.schema)) {
    if (!Object.hasOwn(record, field)) problems.push({ field, expected: expectedOf[type], got: 'nothing' })
    else if (!fits(type, record[field]))
      problems.push({ field, expected: expectedOf[type], got: show(record[field]) })
  }
  for (const field of Object.keys(record)) {
    if (Object.hasOwn(spec.schema, field)) continue
    const guess = didYouMean(field, fields)
    problems.push({
      field,
      expected:
        guess === undefined
          ? `no such field (the schema has ${fields.join(', ')})`
          : `no such field (did you mean ${JSON.stringify(guess)}?)`,
      got: show(record[field]),
    })
  }
  return problems
}

const maxEventBytesOf = (spec: TopicSpec): number =>
  spec.maxEventBytes === undefined
    ? defaultMaxEventBytes
    : typeof spec.maxEventBytes === 'number'
      ? spec.maxEventBytes
      : parseSize(spec.maxEventBytes)

/**
 * Splits NDJSON text into events; a line that is not JSON becomes an unparsed event (dead-lettered with its text).
 * Blank lines are skipped. `firstLine` numbers the lines of a text that starts inside a file.
 */
export function parseNdjson(text: string, firstLine = 1): IncomingEvent[] {
  const out: IncomingEvent[] = []
  const lines = text.split('\n')
  for (const [i, rawLine] of lines.entries()) {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine
    if (line.trim() === '') continue
    try {
      out.push({ value: JSON.parse(line) as unknown, line: firstLine + i })
    } catch (error) {
      out.push({ raw: line, line: firstLine + i, error: (error as Error).message })
    }
  }
  return out
}

/**
 * Publishes events to a declared topic: each is checked against the topic's schema; those that fit are appended to
 * the topic, the others to `<topic>.dead-letter` with the original event and every reason. Nothing is dropped: the
 * answer counts both. With `idempotencyKey`, a retry stores nothing twice.
 * @throws FreshetError `TOPIC_NOT_FOUND`; `OVERLOADED` (HTTP 429) when the topic's backlog is full (then nothing
 * was stored, unless the dead-letter topic was the full one: then the accepted events were stored and a retry with
 * the same `idempotencyKey` stores only the rest); `INPUT_TOO_LARGE` for more events than one append takes.
 * @example await publish(platform, 'clicks', [{ user: 'u1', at: '2030-01-01T00:00:00Z' }], { idempotencyKey: 'req-17' })
 */
export async function publish(
  platform: Platform,
  topic: string,
  events: readonly unknown[],
  options: PublishOptions = {},
): Promise<PublishResult> {
  return publishIncoming(
    platform,
    topic,
    events.map((value) => ({ value })),
    options,
  )
}

/** {@link publish} for parsed input that may hold unparsed NDJSON lines (the HTTP route and the CLI). */
export async function publishIncoming(
  platform: Platform,
  topic: string,
  incoming: readonly IncomingEvent[],
  options: PublishOptions = {},
): Promise<PublishResult> {
  const spec = topicSpecOf(platform.config, topic)
  const key = options.idempotencyKey
  if (key !== undefined && (key.length === 0 || key.length > maxIdempotencyKeyLength)) {
    throw new FreshetError(
      'USAGE',
      `the idempotency key must have 1 to ${maxIdempotencyKeyLength} characters, got ${key.length}`,
    )
  }
  // A line number is the stable position of an NDJSON event (blank lines do not count); else its index.
  const idOf = (i: number, line: number | undefined): { messageId?: string } =>
    key === undefined ? {} : { messageId: `${key}#${line ?? i + (options.firstIndex ?? 0)}` }
  const good: NewEvent[] = []
  const bad: NewEvent[] = []
  const problems: PublishResult['problems'] = []
  for (const [i, item] of incoming.entries()) {
    const where = item.line === undefined ? { index: i } : { line: item.line }
    let reasons: EventProblem[]
    let letter: DeadLetter
    if ('raw' in item) {
      reasons = [
        {
          field: '(line)',
          expected: 'a JSON object on one line',
          got: `text that is not JSON (${item.error})`,
        },
      ]
      letter = { topic, reasons, raw: item.raw, ...where }
    } else {
      reasons = checkEvent(spec, item.value)
      if (reasons.length === 0) {
        const keyValue =
          spec.key === undefined ? undefined : (item.value as Record<string, unknown>)[spec.key]
        good.push({
          payload: item.value,
          ...(keyValue === undefined
            ? {}
            : { key: typeof keyValue === 'string' ? keyValue : JSON.stringify(keyValue) }),
          ...idOf(i, item.line),
        })
        continue
      }
      letter = { topic, reasons, event: item.value, ...where }
    }
    bad.push({ payload: letter, ...idOf(i, item.line) })
    if (problems.length < maxProblemsShown) problems.push({ ...where, reasons })
  }

  const stored = good.length === 0 ? undefined : await platform.log.append(topic, good)
  const letters = bad.length === 0 ? undefined : await platform.log.append(deadLetterTopic(topic), bad)
  await applyRetention(platform, topic, spec)
  return {
    topic,
    accepted: good.length,
    deadLettered: bad.length,
    duplicates: (stored?.duplicates ?? 0) + (letters?.duplicates ?? 0),
    offsets: range(stored?.offsets),
    deadLetter: { topic: deadLetterTopic(topic), offsets: range(letters?.offsets) },
    problems,
  }
}

function range(offsets: readonly number[] | undefined): OffsetRange | null {
  if (offsets === undefined || offsets.length === 0) return null
  return { first: Math.min(...offsets), last: Math.max(...offsets) }
}

/** Trims what the topic's `retention` no longer keeps (only events every consumer has committed). */
async function applyRetention(platform: Platform, topic: string, spec: TopicSpec): Promise<void> {
  if (spec.retention === undefined) return
  const before = new Date(Date.now() - parseDuration(spec.retention))
  await platform.log.trim(topic, { before })
  await platform.log.trim(deadLetterTopic(topic), { before })
}

/** What `GET /api/v1/topics/{topic}` and `freshet publish --json` show of a topic. */
export interface TopicOverview {
  readonly name: string
  readonly schema: TopicSpec['schema']
  readonly key: string | null
  readonly eventTime: string | null
  readonly retention: string | null
  readonly maxEventBytes: number
  readonly offsets: { readonly first: number; readonly last: number }
  /** Events retained, and events not yet consumed by the slowest consumer (all retained when none consumes). */
  readonly events: number
  readonly backlog: number
  readonly maxBacklog: number
  readonly consumers: ConsumerInfo[]
  readonly deadLetter: { readonly topic: string; readonly events: number; readonly lastOffset: number }
}

export async function topicOverview(platform: Platform, name: string): Promise<TopicOverview> {
  const spec = topicSpecOf(platform.config, name)
  const [info, letters] = await Promise.all([
    platform.log.info(name),
    platform.log.info(deadLetterTopic(name)),
  ])
  const limits = topicLimits(platform.config)(name)
  return {
    name,
    schema: spec.schema,
    key: spec.key ?? null,
    eventTime: spec.eventTime ?? null,
    retention: spec.retention ?? null,
    maxEventBytes: maxEventBytesOf(spec),
    offsets: { first: info?.firstOffset ?? 1, last: info?.lastOffset ?? 0 },
    events: info?.events ?? 0,
    backlog: info?.backlog ?? 0,
    maxBacklog: info?.maxBacklog ?? limits?.maxBacklog ?? defaultEventLogLimits.maxBacklog,
    consumers: info?.consumers ?? [],
    deadLetter: {
      topic: deadLetterTopic(name),
      events: letters?.events ?? 0,
      lastOffset: letters?.lastOffset ?? 0,
    },
  }
}
