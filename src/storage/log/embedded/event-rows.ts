import { FreshetError } from '../../../core/errors.js'
import type { EventLogEventTable } from '../../metadata/database.js'
import type { LogEvent, LogTransaction, NewEvent } from '../event-log.js'

// Rows and values of the embedded log's tables, and checks of the arguments its methods take.

export const maxNameLength = 255
// Rows per insert, and ids per `in (…)`: well under the bound-parameter limits of SQLite (32 766) and PostgreSQL.
export const chunk = 500

export const topicLock = (topic: string): string => `event-log:${topic}`
export const consumerLock = (topic: string, consumer: string): string =>
  `event-log-consumer:${JSON.stringify([topic, consumer])}`

export async function topicRow(
  trx: LogTransaction,
  topic: string,
): Promise<{ last_offset: number; trimmed_offset: number }> {
  const row = await trx
    .selectFrom('event_log_topics')
    .select(['last_offset', 'trimmed_offset'])
    .where('topic', '=', topic)
    .executeTakeFirstOrThrow()
  return { last_offset: Number(row.last_offset), trimmed_offset: Number(row.trimmed_offset) }
}

/** The offset the backlog counts from: the slowest consumer's commit, or the trimmed prefix when none consumes. */
export async function floor(trx: LogTransaction, topic: string, trimmed: number): Promise<number> {
  const row = await trx
    .selectFrom('event_log_consumers')
    .select((eb) => eb.fn.min('committed_offset').as('offset'))
    .where('topic', '=', topic)
    .executeTakeFirst()
  const slowest = row?.offset
  return slowest === null || slowest === undefined ? trimmed : Math.max(trimmed, Number(slowest))
}

export function encode(
  topic: string,
  event: NewEvent,
  index: number,
): Omit<EventLogEventTable, 'event_offset' | 'appended_at'> {
  let payload: string | undefined
  try {
    payload = JSON.stringify(event.payload)
  } catch (error) {
    throw new FreshetError(
      'USAGE',
      `event ${index} of an append to topic ${topic} is not JSON: ${(error as Error).message}`,
      {
        cause: error,
      },
    )
  }
  if (payload === undefined) {
    throw new FreshetError('USAGE', `event ${index} of an append to topic ${topic} has no JSON payload`, {
      hint: 'give every event a payload that JSON can represent (an object, array, string, number, boolean or null)',
    })
  }
  const messageId = event.messageId ?? null
  if (messageId !== null && (messageId.length === 0 || messageId.length > maxNameLength)) {
    throw new FreshetError(
      'USAGE',
      `event ${index} of an append to topic ${topic}: the message id must have 1 to ${maxNameLength} characters, got ${messageId.length}`,
    )
  }
  return { topic, message_id: messageId, event_key: event.key ?? null, payload }
}

export function decode(row: EventLogEventTable): LogEvent {
  return {
    topic: row.topic,
    offset: Number(row.event_offset),
    payload: JSON.parse(row.payload) as unknown,
    key: row.event_key,
    messageId: row.message_id,
    appendedAt: new Date(row.appended_at),
  }
}

// eslint-disable-next-line no-control-regex
const controlCharacter = /[\u0000-\u001f]/

export function checkName(kind: string, name: string): void {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    name.length > maxNameLength ||
    controlCharacter.test(name)
  ) {
    throw new FreshetError(
      'USAGE',
      `${kind} name ${JSON.stringify(name)} is not allowed: use 1 to ${maxNameLength} characters without control characters`,
    )
  }
}

export function offsetArg(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new FreshetError('USAGE', `${name}: expected an offset (an integer ≥ 0), got ${String(value)}`)
  }
  return value
}

export function positiveArg(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new FreshetError('USAGE', `${name}: expected a positive integer, got ${String(value)}`)
  }
  return value
}
