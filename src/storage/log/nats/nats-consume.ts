import type { Consumer, JsMsg } from '@nats-io/jetstream'
import type { LogEvent } from '../event-log.js'
import { unwrap } from './nats-names.js'

// Deliveries of a durable pull consumer, turned into the ordered batch `consume` hands to its handler.

/**
 * Up to `want` deliveries above `committed`. Deliveries at or below it were committed by a process that did not
 * get to ack them: acked now and skipped, and as many fetched again in their place.
 */
export async function fetchAfter(durable: Consumer, want: number, committed: number): Promise<JsMsg[]> {
  const held: JsMsg[] = []
  for (let need = want; need > 0;) {
    const messages = await durable.fetch({ max_messages: need, expires: 1_000 })
    let skipped = 0
    for await (const m of messages) {
      if (m.seq > committed) held.push(m)
      else {
        m.ack()
        skipped++
      }
    }
    need = skipped === 0 ? 0 : want - held.length
  }
  return held.sort((a, b) => a.seq - b.seq)
}

/** The events of `held` (sorted) that follow offset `after` without a gap. */
export function contiguous(topic: string, held: readonly JsMsg[], after: number): LogEvent[] {
  const events: LogEvent[] = []
  for (const m of held) {
    if (m.seq !== after + events.length + 1) break
    events.push(unwrap(topic, m.seq, m.string()))
  }
  return events
}
