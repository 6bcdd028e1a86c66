import {
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type PubAck,
} from '@nats-io/jetstream'
import { FreshetError } from '../../../core/errors.js'
import type { encode } from '../embedded/event-rows.js'
import { envelope, type TopicNames } from './nats-names.js'

// The append side of the NATS event log: which message ids a stream holds, and publishing a batch all or nothing.
// Callers hold the topic's append lock (see NatsEventLog).

export const streamNotFound = 10059
export const consumerNotFound = 10014
export const isApiError = (error: unknown, code: number): boolean =>
  error instanceof JetStreamApiError && error.code === code
// Messages published (and message ids looked up) at once; each waits for its own answer.
const publishWindow = 1000

/** Sequences of the batch's message ids that the stream still holds, from its subject index. */
export async function storedIds(
  jsm: JetStreamManager,
  names: TopicNames,
  rows: readonly { readonly message_id: string | null }[],
): Promise<Map<string, number>> {
  const ids = [...new Set(rows.flatMap((r) => (r.message_id === null ? [] : [r.message_id])))]
  const stored = new Map<string, number>()
  for (let i = 0; i < ids.length; i += publishWindow) {
    await Promise.all(
      ids.slice(i, i + publishWindow).map(async (id) => {
        const found = await jsm.streams
          .getMessage(names.stream, { last_by_subj: names.subjectOf(id) })
          .catch((error: unknown) => {
            if (isApiError(error, streamNotFound)) return null
            throw unavailable(`looking up message id ${id}`, error)
          })
        if (found !== null) stored.set(id, found.seq)
      }),
    )
  }
  return stored
}

/**
 * Publishes `rows` in order after sequence `last`, all or (after deleting what was stored) none. A row JetStream
 * reports as a duplicate of its `Nats-Msg-Id` (an id whose event was trimmed, still within the 2-minute window)
 * keeps the sequence JetStream answers, like any duplicate.
 */
export async function publishBatch(
  js: JetStreamClient,
  jsm: JetStreamManager,
  topic: string,
  names: TopicNames,
  rows: readonly (ReturnType<typeof encode> & { appendedAt: string })[],
  last: number,
): Promise<PubAck[]> {
  const acks: PubAck[] = []
  let failure: { index: number; reason: string; cause?: unknown } | undefined
  for (let start = 0; start < rows.length && failure === undefined; start += publishWindow) {
    const settled = await Promise.allSettled(
      rows.slice(start, start + publishWindow).map((row, i) =>
        js.publish(names.subjectOf(row.message_id), envelope(row), {
          ...(row.message_id === null ? {} : { msgID: row.message_id }),
          // A writer that does not take the append lock makes this append fail rather than interleave with it.
          ...(start + i === 0 ? { expect: { lastSequence: last } } : {}),
        }),
      ),
    )
    settled.forEach((ack, i) => {
      if (ack.status === 'fulfilled') acks.push(ack.value)
      else failure ??= { index: start + i, reason: message(ack.reason), cause: ack.reason }
    })
  }
  const stored = acks.filter((ack) => !ack.duplicate).map((ack) => ack.seq)
  const expected = stored.every((seq, i) => seq === last + 1 + i)
  if (failure === undefined && expected) return acks
  failure ??= {
    index: 0,
    reason: `another writer appended meanwhile: stored at offsets ${stored.join(', ')}`,
  }
  const undone = await Promise.allSettled(stored.map((seq) => jsm.streams.deleteMessage(names.stream, seq)))
  const kept = stored.filter((_, i) => undone[i]?.status !== 'fulfilled')
  throw new FreshetError(
    'BACKEND_UNAVAILABLE',
    `the append to topic ${topic} failed at event ${failure.index}: ${failure.reason}; ${
      kept.length === 0
        ? 'nothing of it is stored'
        : `offsets ${kept.join(', ')} of it could not be removed again and stay stored`
    }`,
    { cause: failure.cause, hint: 'retry the append with the same message ids once NATS answers' },
  )
}

export const message = (error: unknown): string => (error instanceof Error ? error.message : String(error))

export function unavailable(what: string, error: unknown): FreshetError {
  if (error instanceof FreshetError) return error
  return new FreshetError('BACKEND_UNAVAILABLE', `NATS JetStream failed ${what}: ${message(error)}`, {
    cause: error,
    hint: 'check that nats-server is running with JetStream, then retry',
  })
}
