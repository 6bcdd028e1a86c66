import { createHash } from 'node:crypto'
import { appendFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Platform } from '../../app/platform.js'
import { listBatches } from '../../data/batches.js'
import { tempPlatform } from '../../../test/support/workspace.js'
import { LandingWatcher, type LandingEvent } from './landing.js'
import { stampedName } from './landing-files.js'

let platform: Platform
let dir: string
let dispose: () => Promise<void>
let landing: string
let events: LandingEvent[]
let watcher: LandingWatcher

const rows = (from: number, n: number) =>
  't,x,y\n' +
  Array.from(
    { length: n },
    (_, i) =>
      `2024-01-${String(((from + i) % 28) + 1).padStart(2, '0')}T00:00:00Z,${from + i},${(from + i) % 2}`,
  ).join('\n') +
  '\n'
const sha = async (file: string) =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex')
const ls = async (sub = '') => (await readdir(path.join(landing, sub)).catch(() => [] as string[])).sort()

beforeEach(async () => {
  ;({ platform, dir, dispose } = await tempPlatform({
    datasets: { events: { landing: 'landing/events', eventTime: 't', label: 'y' } },
  }))
  landing = path.join(dir, 'landing', 'events')
  await mkdir(landing, { recursive: true })
  events = []
  watcher = new LandingWatcher(platform, {
    onEvent: (e) => events.push(e),
    now: () => new Date('2026-01-02T03:04:05.678Z'),
  })
})
afterEach(async () => {
  await watcher.stop()
  await dispose()
})

describe('landing watcher (storage trigger)', () => {
  it('takes a complete file once its size and mtime held across two polls, ingests it and moves it to .processed', async () => {
    await writeFile(path.join(landing, 'a.csv'), rows(0, 10))
    await watcher.poll()
    expect(events).toEqual([])
    expect(await ls()).toEqual(['a.csv'])

    await watcher.poll()
    expect(events.map((e) => e.type)).toEqual(['processed'])
    expect(await ls()).toEqual(['.processed'])
    expect(await ls('.processed')).toEqual(['a.csv'])
    const batches = await listBatches(platform.db, 'events')
    expect(batches.map((b) => [b.state, b.rows, b.sourceName])).toEqual([['accepted', 10, 'a.csv']])
  })

  it('does not take a file that is still growing until it has stayed the same across two polls', async () => {
    const file = path.join(landing, 'growing.csv')
    await writeFile(file, rows(0, 5))
    await watcher.poll()
    await appendFile(file, rows(5, 5).split('\n').slice(1).join('\n'))
    await watcher.poll()
    expect(events).toEqual([])
    expect(await listBatches(platform.db, 'events')).toEqual([])

    await watcher.poll()
    expect(events.map((e) => e.type)).toEqual(['processed'])
    expect((await listBatches(platform.db, 'events'))[0]?.rows).toBe(10)
  })

  it('takes a file with a .done marker at the first poll and moves the marker along; skips dotfiles', async () => {
    await writeFile(path.join(landing, 'b.csv'), rows(0, 4))
    await writeFile(path.join(landing, 'b.csv.done'), '')
    await writeFile(path.join(landing, '.partial.csv'), rows(0, 3))
    await watcher.poll()
    expect(events.map((e) => e.type)).toEqual(['processed'])
    expect(await ls('.processed')).toEqual(['b.csv', 'b.csv.done'])
    await watcher.poll()
    await watcher.poll()
    expect(await ls()).toEqual(['.partial.csv', '.processed'])
    expect(events).toHaveLength(1)
  })

  it('moves a file that cannot be ingested to .failed with a reason file, keeping its bytes', async () => {
    const bad = path.join(landing, 'bad.csv')
    await writeFile(bad, Buffer.from([0, 1, 2, 3, 0, 0, 255, 254, 0, 7]))
    const before = await sha(bad)
    await writeFile(path.join(landing, 'bad.csv.done'), '')
    await watcher.poll()
    expect(events).toMatchObject([{ type: 'failed', error: { code: 'INPUT_BINARY' } }])
    expect(await ls()).toEqual(['.failed'])
    expect(await ls('.failed')).toEqual(['bad.csv', 'bad.csv.done', 'bad.csv.reason.txt'])
    expect(await sha(path.join(landing, '.failed', 'bad.csv'))).toBe(before)
    const reason = await readFile(path.join(landing, '.failed', 'bad.csv.reason.txt'), 'utf8')
    expect(reason).toMatch(/^code: INPUT_BINARY\nmessage: .*bad\.csv/)
    expect(reason).toMatch(/\nhint: /)
    expect(await listBatches(platform.db, 'events')).toEqual([])
  })

  it('moves duplicates and quarantined batches to .processed, adding a timestamp on a name clash, deleting nothing', async () => {
    const content = rows(0, 6)
    await writeFile(path.join(landing, 'c.csv'), content)
    await writeFile(path.join(landing, 'c.csv.done'), '')
    await watcher.poll()
    await writeFile(path.join(landing, 'c.csv'), content)
    await writeFile(path.join(landing, 'c.csv.done'), '')
    await watcher.poll()
    await writeFile(path.join(landing, 'notime.csv'), 'x,y\n1,0\n2,1\n')
    await writeFile(path.join(landing, 'notime.csv.done'), '')
    await watcher.poll()

    expect(events.map((e) => e.type === 'processed' && [e.result.status, e.quarantined])).toEqual([
      ['ingested', false],
      ['duplicate', false],
      ['ingested', true],
    ])
    const stamped = stampedName('c.csv', new Date('2026-01-02T03:04:05.678Z'))
    expect(stamped).toBe('c.20260102T030405678Z.csv')
    expect(await ls('.processed')).toEqual(
      [
        'c.20260102T030405678Z.csv',
        'c.20260102T030405678Z.csv.done',
        'c.csv',
        'c.csv.done',
        'notime.csv',
        'notime.csv.done',
      ].sort(),
    )
    expect(await readFile(path.join(landing, '.processed', stamped), 'utf8')).toBe(content)
    expect((await listBatches(platform.db, 'events')).map((b) => b.state)).toEqual([
      'accepted',
      'quarantined',
    ])
  })

  it('start() polls on its own until stop(); events can be awaited', async () => {
    const processed = new Promise<LandingEvent>((resolve) => {
      watcher = new LandingWatcher(platform, { pollMs: 10, onEvent: resolve })
    })
    watcher.start()
    await writeFile(path.join(landing, 'd.csv'), rows(0, 3))
    expect(await processed).toMatchObject({ type: 'processed', result: { status: 'ingested' } })
    await watcher.stop()
    expect(await ls('.processed')).toEqual(['d.csv'])
  })
})
