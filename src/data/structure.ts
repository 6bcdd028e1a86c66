import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import { createGunzip } from 'node:zlib'
import { parse } from 'csv-parse'
import { FreshetError, errnoCode } from '../core/errors.js'
import type { Compression } from './formats.js'

/**
 * What the structural scan of a text file found. DuckDB reads the file afterwards; its row count must equal
 * `records`, so a row that DuckDB would skip or merge is caught instead of silently lost.
 */
export interface TextStructure {
  readonly records: number
  /** CSV only. */
  readonly delimiter?: string
  readonly columns?: readonly string[]
}

function openText(file: string, compression: Compression): Readable {
  const raw = createReadStream(file)
  if (compression === 'none') return raw
  const gunzip = createGunzip()
  raw.on('error', (error) => gunzip.destroy(error))
  return raw.pipe(gunzip)
}

function streamFailure(error: unknown, name: string): FreshetError {
  if (error instanceof FreshetError) return error
  const code = errnoCode(error)
  if (code === 'Z_BUF_ERROR' || code === 'Z_DATA_ERROR' || (error instanceof Error && /unexpected end of file|incorrect header/i.test(error.message))) {
    return new FreshetError('INPUT_MALFORMED', `${name} is a damaged or truncated gzip file: ${(error as Error).message}`, {
      file: name,
      cause: error,
      hint: 'compress the file again and re-ingest it',
    })
  }
  return new FreshetError('INPUT_MALFORMED', `${name} could not be read: ${(error as Error).message}`, { file: name, cause: error })
}

/** Picks the delimiter that occurs most often, outside quotes, in the header line. */
export function sniffDelimiter(headerLine: string): string {
  const candidates = [',', '\t', ';', '|']
  let best = ','
  let bestCount = 0
  for (const candidate of candidates) {
    let count = 0
    let quoted = false
    for (const ch of headerLine) {
      if (ch === '"') quoted = !quoted
      else if (!quoted && ch === candidate) count++
    }
    if (count > bestCount) {
      best = candidate
      bestCount = count
    }
  }
  return best
}

async function firstLine(file: string, compression: Compression): Promise<string> {
  const lines = createInterface({ input: openText(file, compression), crlfDelay: Infinity })
  try {
    for await (const line of lines) return line
    return ''
  } finally {
    lines.close()
  }
}

/**
 * Reads a CSV file once, checking that every record has as many fields as the header and that the text is
 * valid UTF-8.
 * @throws FreshetError `INPUT_MALFORMED` naming the line, `INPUT_BINARY` for text that is not UTF-8.
 */
export async function scanCsv(file: string, compression: Compression, name: string, delimiter?: string): Promise<TextStructure> {
  const header = await firstLine(file, compression)
  const delim = delimiter ?? sniffDelimiter(header)
  const parser = parse({ delimiter: delim, relax_column_count: false, relax_quotes: true, bom: true, info: true, skip_empty_lines: true, encoding: 'utf8' })
  const input = openText(file, compression)
  let records = 0
  let columns: string[] = []
  const decoder = new TextDecoder('utf-8', { fatal: true })
  let badUtf8 = false
  input.on('data', (chunk: Buffer) => {
    if (!badUtf8) {
      try {
        decoder.decode(chunk, { stream: true })
      } catch {
        badUtf8 = true
        input.destroy(new FreshetError('INPUT_BINARY', `${name} is not valid UTF-8 text`, { file: name, hint: 'save the file as UTF-8 and re-ingest it' }))
      }
    }
  })
  input.on('error', (error) => parser.destroy(error))
  input.pipe(parser)
  try {
    for await (const record of parser as AsyncIterable<{ record: string[] }>) {
      if (records === 0 && columns.length === 0) {
        columns = record.record
        if (columns.some((c) => c.trim() === '')) {
          throw new FreshetError('INPUT_MALFORMED', `${name} line 1: the header has an empty column name`, {
            file: name,
            line: 1,
            hint: 'every column needs a name in the header row',
          })
        }
        continue
      }
      records++
    }
  } catch (error) {
    if (error instanceof FreshetError) throw error
    const info = error as { code?: string; lines?: number; message?: string; record?: unknown[] }
    if (info.code === 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH') {
      // The parser runs ahead of this loop, so take the counts from its own message.
      const counts = /expect (\d+), got (\d+)/.exec(info.message ?? '')
      throw new FreshetError('INPUT_MALFORMED', `${name} line ${info.lines}: expected ${counts?.[1] ?? columns.length} fields like the header, got ${counts?.[2] ?? 'a different number'}`, {
        file: name,
        ...(info.lines === undefined ? {} : { line: info.lines }),
        hint: 'fix the row (a missing or extra delimiter, or an unclosed quote) and re-ingest the file',
        cause: error,
      })
    }
    if (typeof info.code === 'string' && info.code.startsWith('CSV_')) {
      throw new FreshetError('INPUT_MALFORMED', `${name} line ${info.lines}: ${info.message ?? 'malformed CSV'}`, {
        file: name,
        ...(info.lines === undefined ? {} : { line: info.lines }),
        hint: 'fix the quoting on that line and re-ingest the file',
        cause: error,
      })
    }
    throw streamFailure(error, name)
  }
  if (columns.length === 0) {
    throw new FreshetError('INPUT_EMPTY', `${name} has no header row`, { file: name, hint: 'a CSV file needs a header row naming its columns' })
  }
  return { records, delimiter: delim, columns }
}

/**
 * Reads a JSON Lines file once, checking that every non-empty line is a JSON object.
 * @throws FreshetError `INPUT_MALFORMED` naming the line and the parser's complaint.
 */
export async function scanJsonLines(file: string, compression: Compression, name: string): Promise<TextStructure> {
  const lines = createInterface({ input: openText(file, compression), crlfDelay: Infinity })
  let lineNumber = 0
  let records = 0
  try {
    for await (const line of lines) {
      lineNumber++
      if (line.trim() === '') continue
      let value: unknown
      try {
        value = JSON.parse(line)
      } catch (error) {
        throw new FreshetError('INPUT_MALFORMED', `${name} line ${lineNumber}: invalid JSON (${(error as Error).message})`, {
          file: name,
          line: lineNumber,
          hint: 'each line must be one complete JSON object; fix that line and re-ingest the file',
          cause: error,
        })
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw new FreshetError('INPUT_MALFORMED', `${name} line ${lineNumber}: expected a JSON object, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`, {
          file: name,
          line: lineNumber,
          hint: 'JSON Lines files hold one object per line',
        })
      }
      records++
    }
  } catch (error) {
    throw streamFailure(error, name)
  } finally {
    lines.close()
  }
  if (records === 0) {
    throw new FreshetError('INPUT_EMPTY', `${name} has no records (only blank lines)`, { file: name })
  }
  return { records }
}
