import { createHash } from 'node:crypto'
import { FreshetError } from '../../../core/errors.js'
import type { LogEvent } from '../event-log.js'

// Names on the NATS server, and the stored form of an event.
//
// One stream per topic. Topic names may hold any printable character (dots, spaces, `>`), which NATS names and
// subject tokens may not, so streams and subjects carry a hash of the topic; the stream's description holds the
// topic itself for operators. Each event's subject ends with its message id (base64url), so the stream's subject
// index answers "which sequence holds message id X" for as long as that event is retained, like the embedded log.

const prefixPattern = /^[a-z][a-z0-9-]{0,31}$/

export function checkPrefix(prefix: string): string {
  if (!prefixPattern.test(prefix)) {
    throw new FreshetError(
      'CONFIG_INVALID',
      `NATS name prefix ${JSON.stringify(prefix)} is not allowed: use 1 to 32 lowercase letters, digits or dashes, starting with a letter`,
    )
  }
  return prefix
}

const hash = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 32)

export interface TopicNames {
  /** The stream holding the topic's events; its sequences are the topic's offsets. */
  readonly stream: string
  /** Every subject of the stream (`<base>.>`). */
  readonly subjects: string
  /** The stream of events that failed `maxDeliver` times, and its subject. */
  readonly deadLetterStream: string
  readonly deadLetterSubject: string
  /** The subject of an event with this message id (or without one). */
  readonly subjectOf: (messageId: string | null) => string
}

export function topicNames(prefix: string, topic: string): TopicNames {
  const h = hash(topic)
  const base = `${prefix}.${h}`
  return {
    stream: `${prefix}_${h}`,
    subjects: `${base}.>`,
    deadLetterStream: `${prefix}_${h}_dead_letter`,
    deadLetterSubject: `${prefix}.dead-letter.${h}`,
    subjectOf: (messageId) =>
      messageId === null ? `${base}.none` : `${base}.id.${Buffer.from(messageId).toString('base64url')}`,
  }
}

/** The durable JetStream consumer of a named consumer. */
export const durableName = (consumer: string): string => `c_${hash(consumer)}`

/** The stored message body: the payload is already JSON, so it is spliced in rather than parsed and re-encoded. */
export function envelope(event: {
  readonly payload: string
  readonly event_key: string | null
  readonly message_id: string | null
  readonly appendedAt: string
}): string {
  return `{"t":${JSON.stringify(event.appendedAt)},"k":${JSON.stringify(event.event_key)},"m":${JSON.stringify(event.message_id)},"p":${event.payload}}`
}

export function unwrap(topic: string, offset: number, body: string): LogEvent {
  const stored = JSON.parse(body) as { t: string; k: string | null; m: string | null; p: unknown }
  return {
    topic,
    offset,
    payload: stored.p,
    key: stored.k,
    messageId: stored.m,
    appendedAt: new Date(stored.t),
  }
}
