import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openPlatform } from '../src/app/platform.js'
import { loadConfig } from '../src/config/load.js'
import type { DeadLetter } from '../src/streaming/topics.js'
import { runCli } from './support/cli.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'freshet-publish-'))
  await writeFile(
    path.join(dir, 'freshet.config.json'),
    JSON.stringify({
      topics: { clicks: { schema: { user: 'string', price: 'number' }, key: 'user', maxBacklog: 8 } },
    }),
  )
})
afterEach(async () => rm(dir, { recursive: true, force: true }))

const lines = (items: unknown[]): string =>
  items.map((i) => (typeof i === 'string' ? i : JSON.stringify(i))).join('\n') + '\n'

async function stored(topic: string): Promise<unknown[]> {
  const platform = await openPlatform(await loadConfig(dir))
  try {
    const out: unknown[] = []
    for (let page; (page = await platform.log.read(topic, { after: out.length, limit: 1000 })).length > 0;) {
      out.push(...page.map((e) => e.payload))
    }
    return out
  } finally {
    await platform.close()
  }
}

describe('freshet publish', () => {
  it('publishes a JSON Lines file, dead-letters the bad lines with reasons (exit 3), and stores nothing twice when run again', async () => {
    const file = path.join(dir, 'clicks.jsonl')
    await writeFile(
      file,
      lines([{ user: 'a', price: 1 }, { user: 'b', price: 'two' }, '', '{not json', { user: 'c', price: 3 }]),
    )
    const first = await runCli(['publish', 'clicks', file], { cwd: dir })
    expect(first.code, first.stderr).toBe(3)
    expect(first.stdout).toContain('2 events accepted (offsets 1-2)')
    expect(first.stdout).toContain('DEAD-LETTERED 2 events')
    expect(first.stdout).toContain('line 2: price: expected number, got string "two"')
    expect(first.stdout).toContain('line 4: (line): expected a JSON object on one line')

    const again = await runCli(['publish', 'clicks', file, '--json'], { cwd: dir })
    expect(again.code, again.stderr).toBe(3)
    expect(JSON.parse(again.stdout)).toMatchObject({
      accepted: 2,
      deadLettered: 2,
      duplicates: 4,
      first: 1,
      last: 2,
    })

    expect(await stored('clicks')).toEqual([
      { user: 'a', price: 1 },
      { user: 'c', price: 3 },
    ])
    const letters = (await stored('clicks.dead-letter')) as DeadLetter[]
    expect(letters).toEqual([
      {
        topic: 'clicks',
        line: 2,
        event: { user: 'b', price: 'two' },
        reasons: [{ field: 'price', expected: 'number', got: 'string "two"' }],
      },
      { topic: 'clicks', line: 4, raw: '{not json', reasons: [expect.objectContaining({ field: '(line)' })] },
    ])
  })

  it('stops with a clear error when the topic is full, and a later run publishes only the rest', async () => {
    const file = path.join(dir, 'many.jsonl')
    await writeFile(file, lines(Array.from({ length: 12 }, (_, n) => ({ user: `u${n}`, price: n }))))
    const full = await runCli(['publish', 'clicks', file], { cwd: dir })
    expect(full.code).toBe(1)
    expect(full.stderr).toContain(
      'topic clicks holds 8 un-consumed events (limit 8): the append of 4 was refused',
    )
    expect(full.stderr).toContain('8 events before line 9 were published, the rest were not')
    expect(full.stderr).toContain('hint: run the same command again once the consumers have caught up')
    expect(await stored('clicks')).toHaveLength(8)

    const platform = await openPlatform(await loadConfig(dir))
    try {
      await platform.log.consume('clicks', 'sink', () => Promise.resolve(), { limit: 8 })
    } finally {
      await platform.close()
    }
    const rest = await runCli(['publish', 'clicks', file, '--json'], { cwd: dir })
    expect(rest.code, rest.stderr).toBe(0)
    expect(JSON.parse(rest.stdout)).toMatchObject({ accepted: 12, duplicates: 8, first: 1, last: 12 })
    expect(await stored('clicks')).toEqual(
      Array.from({ length: 12 }, (_, n) => ({ user: `u${n}`, price: n })),
    )
  })

  it('two publishing processes on one workspace get distinct, gapless offsets', async () => {
    await writeFile(
      path.join(dir, 'freshet.config.json'),
      JSON.stringify({ topics: { clicks: { schema: { user: 'string', price: 'number' } } } }),
    )
    const files = await Promise.all(
      ['p', 'q', 'r'].map(async (who) => {
        const file = path.join(dir, `${who}.jsonl`)
        await writeFile(file, lines(Array.from({ length: 2_500 }, (_, n) => ({ user: who, price: n }))))
        return file
      }),
    )
    // Migrated first: processes that start together on a new SQLite database race in its migration (see report).
    expect(await stored('clicks')).toEqual([])
    const results = await Promise.all(
      files.map((file) => runCli(['publish', 'clicks', file, '--json'], { cwd: dir })),
    )
    for (const result of results) expect(result.code, result.stderr).toBe(0)
    const events = (await stored('clicks')) as { user: string; price: number }[]
    expect(events).toHaveLength(7_500)
    for (const who of ['p', 'q', 'r']) {
      expect(events.filter((e) => e.user === who).map((e) => e.price)).toEqual(
        Array.from({ length: 2_500 }, (_, n) => n),
      )
    }
  })
})
