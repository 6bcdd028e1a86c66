import type { DatasetSpec } from '../config/schema.js'

/** The `stream` section of a dataset. */
export type StreamSpec = NonNullable<DatasetSpec['stream']>
export type AggregateSpec = NonNullable<StreamSpec['aggregate']>

/** How an event arrived relative to the watermark. */
export type Arrival = 'on-time' | 'late' | 'too-late'

/** Start (epoch ms) of the tumbling window of `size` ms that holds `eventMs`. */
export const windowStartOf = (eventMs: number, size: number): number => Math.floor(eventMs / size) * size

/**
 * Where an event of window `[start, start + size)` stands when the watermark is `watermark` (null before the first
 * event): on time while the window is open, late once the watermark has passed its end, too late once the
 * watermark is more than `dropAfter` past its end.
 */
export function arrivalOf(start: number, size: number, watermark: number | null, dropAfter: number): Arrival {
  if (watermark === null || start + size > watermark) return 'on-time'
  return watermark - (start + size) > dropAfter ? 'too-late' : 'late'
}

/** Watermark after seeing `maxEventMs`: the latest event time minus the allowed lateness. */
export const watermarkOf = (maxEventMs: number, allowedLateness: number): number => maxEventMs - allowedLateness

interface Accumulator {
  readonly key: unknown[]
  count: number
  sums: Map<string, number>
  counts: Map<string, number>
  mins: Map<string, number | string>
  maxs: Map<string, number | string>
  last: Map<string, { at: number; offset: number; value: unknown }>
  distinct: Map<string, Set<string>>
}

/**
 * Per-key aggregates of one window, fed event by event. Memory is one accumulator per distinct key (plus the
 * distinct values of `distinct` fields). `sum`/`mean` skip values that are not finite numbers; `min`/`max` compare
 * numbers, or strings (timestamps) when the field holds strings; all of them are null for a key with no value.
 */
export class WindowAggregator {
  private readonly groups = new Map<string, Accumulator>()

  constructor(private readonly spec: AggregateSpec) {}

  add(event: Record<string, unknown>, eventMs: number, offset: number): void {
    const key = this.spec.by.map((field) => event[field] ?? null)
    const id = JSON.stringify(key)
    let acc = this.groups.get(id)
    if (acc === undefined) {
      acc = { key, count: 0, sums: new Map(), counts: new Map(), mins: new Map(), maxs: new Map(), last: new Map(), distinct: new Map() }
      this.groups.set(id, acc)
    }
    acc.count += 1
    for (const [name, { op, of }] of Object.entries(this.spec.fields)) {
      if (op === 'count' && of === undefined) continue
      const value = event[of ?? name]
      if (value === undefined || value === null) continue
      switch (op) {
        case 'count':
          acc.counts.set(name, (acc.counts.get(name) ?? 0) + 1)
          break
        case 'sum':
        case 'mean':
          if (typeof value === 'number' && Number.isFinite(value)) {
            acc.sums.set(name, (acc.sums.get(name) ?? 0) + value)
            acc.counts.set(name, (acc.counts.get(name) ?? 0) + 1)
          }
          break
        case 'min':
        case 'max': {
          if (typeof value !== 'number' && typeof value !== 'string') break
          const store = op === 'min' ? acc.mins : acc.maxs
          const current = store.get(name)
          if (current === undefined || (op === 'min' ? value < current : value > current)) store.set(name, value)
          break
        }
        case 'last': {
          const current = acc.last.get(name)
          if (current === undefined || eventMs > current.at || (eventMs === current.at && offset > current.offset))
            acc.last.set(name, { at: eventMs, offset, value })
          break
        }
        case 'distinct': {
          let set = acc.distinct.get(name)
          if (set === undefined) acc.distinct.set(name, (set = new Set()))
          set.add(JSON.stringify(value))
          break
        }
      }
    }
  }

  /** One row per key, in key order (so the same events always give the same bytes). */
  rows(): Record<string, unknown>[] {
    const ids = [...this.groups.keys()].sort()
    return ids.map((id) => {
      const acc = this.groups.get(id) as Accumulator
      const row: Record<string, unknown> = {}
      this.spec.by.forEach((field, i) => (row[field] = acc.key[i]))
      for (const [name, { op, of }] of Object.entries(this.spec.fields)) {
        switch (op) {
          case 'count':
            row[name] = of === undefined ? acc.count : (acc.counts.get(name) ?? 0)
            break
          case 'sum':
            row[name] = acc.sums.get(name) ?? 0
            break
          case 'mean': {
            const n = acc.counts.get(name) ?? 0
            row[name] = n === 0 ? null : (acc.sums.get(name) ?? 0) / n
            break
          }
          case 'min':
            row[name] = acc.mins.get(name) ?? null
            break
          case 'max':
            row[name] = acc.maxs.get(name) ?? null
            break
          case 'last':
            row[name] = acc.last.get(name)?.value ?? null
            break
          case 'distinct':
            row[name] = acc.distinct.get(name)?.size ?? 0
            break
        }
      }
      return row
    })
  }
}
