import { createWriteStream } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { finished } from 'node:stream/promises'
import Database from 'better-sqlite3'
import { openPlatform } from '../src/app/platform.js'
import { loadConfig } from '../src/config/load.js'
import { drainStream } from '../src/streaming/stream-source.js'
import { publish } from '../src/streaming/topics.js'
import { peakRssKiB, printBenchJson, secondsSince } from './support.js'

// Events/s from publish to committed window batches on the embedded log (publish in chunks of 1000, then consume,
// window and seal every window as a validated batch), against a peer: a bare loop inserting the same events into
// SQLite with better-sqlite3 and writing one JSON Lines file per window. The peer runs first, so the peak RSS
// printed after it is its own; Freshet's is the process peak after it.

const events = 20_000
const perWindow = 600
const base = Date.parse('2026-01-01T00:00:00Z')
const event = (i: number) => ({ user: `u${i % 97}`, at: new Date(base + Math.floor((i * 60_000) / perWindow)).toISOString(), price: i % 1000 })

async function peer(dir: string): Promise<number> {
  const start = performance.now()
  const db = new Database(path.join(dir, 'peer.db'))
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.exec('CREATE TABLE events (id INTEGER PRIMARY KEY, window_start INTEGER NOT NULL, payload TEXT NOT NULL)')
  db.exec('CREATE INDEX events_window ON events (window_start, id)')
  const insert = db.prepare('INSERT INTO events (window_start, payload) VALUES (?, ?)')
  const many = db.transaction((rows: { w: number; p: string }[]) => {
    for (const r of rows) insert.run(r.w, r.p)
  })
  for (let i = 0; i < events; i += 1000) {
    const rows = []
    for (let k = i; k < Math.min(events, i + 1000); k += 1) {
      const e = event(k)
      rows.push({ w: Math.floor(Date.parse(e.at) / 60_000) * 60_000, p: JSON.stringify(e) })
    }
    many(rows)
  }
  const windows = db.prepare('SELECT DISTINCT window_start FROM events ORDER BY window_start').all() as { window_start: number }[]
  const select = db.prepare('SELECT payload FROM events WHERE window_start = ? ORDER BY id')
  for (const { window_start: w } of windows) {
    const out = createWriteStream(path.join(dir, `peer-${w}.jsonl`))
    for (const row of select.iterate(w) as Iterable<{ payload: string }>) out.write(`${row.payload}\n`)
    out.end()
    await finished(out)
  }
  db.close()
  return secondsSince(start)
}

async function freshet(dir: string): Promise<{ seconds: number; batches: number; rows: number }> {
  await writeFile(
    path.join(dir, 'freshet.config.json'),
    JSON.stringify({
      topics: { clicks: { schema: { user: 'string', at: 'timestamp', price: 'number' }, eventTime: 'at', maxBacklog: 1_000_000 } },
      datasets: { clicks: { eventTime: 'at', stream: { topic: 'clicks', window: '1m' } } },
    }),
  )
  const platform = await openPlatform(await loadConfig(dir))
  try {
    const start = performance.now()
    for (let i = 0; i < events; i += 1000) await publish(platform, 'clicks', Array.from({ length: Math.min(1000, events - i) }, (_, k) => event(i + k)))
    const steps = await drainStream(platform, 'clicks')
    const seconds = secondsSince(start)
    const sealed = steps.flatMap((s) => s.sealed)
    const rows = await platform.db.selectFrom('batches').select((eb) => eb.fn.sum<number>('row_count').as('n')).executeTakeFirst()
    return { seconds, batches: sealed.length, rows: Number(rows?.n ?? 0) }
  } finally {
    await platform.close()
  }
}

export async function streamBench(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'freshet-bench-stream-'))
  try {
    const peerSeconds = await peer(dir)
    const peerRss = peakRssKiB()
    const ours = await freshet(dir)
    const rss = peakRssKiB()
    const rate = events / ours.seconds
    const peerRate = events / peerSeconds
    console.log(`stream: ${events} events -> ${ours.batches} window batches (${ours.rows} rows; the last window stays open)`)
    console.log(`  freshet  publish -> committed window batches  ${rate.toFixed(0)} events/s  (${ours.seconds.toFixed(2)} s, peak RSS ${(rss / 1024).toFixed(0)} MiB)`)
    console.log(`  peer     better-sqlite3 insert + JSONL/window ${peerRate.toFixed(0)} events/s  (${peerSeconds.toFixed(2)} s, peak RSS ${(peerRss / 1024).toFixed(0)} MiB)`)
    console.log(`  ratio    freshet/peer ${(rate / peerRate).toFixed(3)}`)
    printBenchJson('stream', { events, batches: ours.batches, rows: ours.rows, eventsPerSecond: rate, peerEventsPerSecond: peerRate, ratio: rate / peerRate, maxRssKiB: rss, peerMaxRssKiB: peerRss })
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
