import { FreshetError } from '../../core/errors.js'
import type { MetadataDb } from '../metadata/database.js'
import { offsetArg } from './embedded/event-rows.js'
import type { LogTransaction } from './event-log.js'

/**
 * Consumer offsets live in the metadata database whatever the log adapter (embedded or NATS): a consumer's progress
 * commits in the same transaction as the writes it stands for. These are the reads and the compare-and-swap every
 * adapter shares.
 */

/** The offset `consumer` of `topic` has committed (0 before its first commit). */
export async function committedOffset(db: MetadataDb, topic: string, consumer: string): Promise<number> {
  const row = await db
    .selectFrom('event_log_consumers')
    .select('committed_offset')
    .where('topic', '=', topic)
    .where('name', '=', consumer)
    .executeTakeFirst()
  return row === undefined ? 0 : Number(row.committed_offset)
}

/**
 * Moves the consumer from `expected` to `offset` inside `trx`, by compare-and-swap.
 * @throws FreshetError `INTERNAL` outside a transaction, `USAGE` for an offset not after `expected` or past the topic's
 * `lastOffset`, `OFFSET_CONFLICT` when another process committed first.
 */
export async function commitOffset(
  trx: LogTransaction,
  move: { readonly topic: string; readonly consumer: string; readonly expected: number; readonly offset: number; readonly lastOffset: number; readonly at: Date },
): Promise<void> {
  const { topic, consumer } = move
  if (!trx.isTransaction) {
    throw new FreshetError('INTERNAL', `consumer ${consumer} of topic ${topic} committed outside a transaction`, {
      hint: 'commit inside db.transaction(), together with the writes the offset stands for, or use consume()',
    })
  }
  const expected = offsetArg('expected', move.expected)
  const offset = offsetArg('offset', move.offset)
  if (offset <= expected || offset > move.lastOffset) {
    throw new FreshetError(
      'USAGE',
      `consumer ${consumer} of topic ${topic}: cannot commit offset ${offset} after ${expected}; the topic's last offset is ${move.lastOffset}`,
      { hint: 'commit the offset of the last event handled, which is after the one committed before' },
    )
  }
  const at = move.at.toISOString()
  const updated = await trx
    .updateTable('event_log_consumers')
    .set({ committed_offset: offset, updated_at: at })
    .where('topic', '=', topic)
    .where('name', '=', consumer)
    .where('committed_offset', '=', expected)
    .executeTakeFirst()
  if (Number(updated.numUpdatedRows) === 1) return
  if (expected === 0) {
    const inserted = await trx
      .insertInto('event_log_consumers')
      .values({ topic, name: consumer, committed_offset: offset, created_at: at, updated_at: at })
      .onConflict((oc) => oc.columns(['topic', 'name']).doNothing())
      .executeTakeFirst()
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1) return
  }
  const actual = await committedOffset(trx, topic, consumer)
  throw new FreshetError(
    'OFFSET_CONFLICT',
    `consumer ${consumer} of topic ${topic} is at offset ${actual}, not ${expected}: another process consumed these events`,
    { hint: 'roll back this transaction and read again from the committed offset' },
  )
}
