import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import { createGunzip } from 'node:zlib'
import { FreshetError, errnoCode } from '../core/errors.js'
import { CsvScanner } from './csv-scanner.js'
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
  const raw = createReadStream(file, { highWaterMark: 1024 * 1024 })
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

/** Splits a header line on the delimiter, honouring quotes. */
function headerNames(line: string, delimiter: string): string[] {
  const names: string[] = []
  let current = ''
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]
    if (ch === '"') {
      if (quoted && line[i + 1] === '"') {
        current += '"'
        i++
      } else if (quoted || current === '') quoted = !quoted
      else current += ch
    } else if (ch === delimiter && !quoted) {
      names.push(current)
      current = ''
    } else current += ch
  }
  names.push(current)
  return names.map((n) => n.replace(/^\ufeff/, '').trim())
}

/**
 * Reads a CSV file once, checking that every record has as many fields as the header, that quotes are closed and
 * that the text is valid UTF-8.
 * @throws FreshetError `INPUT_MALFORMED` naming the line, `INPUT_BINARY` for text that is not UTF-8.
 */
export async function scanCsv(file: string, compression: Compression, name: string, delimiter?: string): Promise<TextStructure> {
  const header = await firstLine(file, compression)
  const delim = delimiter ?? sniffDelimiter(header)
  if (delim.charCodeAt(0) > 127) {
    throw new FreshetError('USAGE', `CSV delimiter ${JSON.stringify(delim)} is not supported: use an ASCII character such as , ; | or a tab`)
  }
  const columns = headerNames(header, delim)
  if (columns.length === 0 || columns.every((c) => c === '')) {
    throw new FreshetError('INPUT_EMPTY', `${name} has no header row`, { file: name, hint: 'a CSV file needs a header row naming its columns' })
  }
  if (columns.some((c) => c === '')) {
    throw new FreshetError('INPUT_MALFORMED', `${name} line 1: the header has an empty column name`, {
      file: name,
      line: 1,
      hint: 'every column needs a name in the header row',
    })
  }
  const scanner = new CsvScanner(delim)
  const decoder = new TextDecoder('utf-8', { fatal: true })
  try {
    for await (const chunk of openText(file, compression) as AsyncIterable<Buffer>) {
      try {
        decoder.decode(chunk, { stream: true })
      } catch {
        throw new FreshetError('INPUT_BINARY', `${name} is not valid UTF-8 text`, { file: name, hint: 'save the file as UTF-8 and re-ingest it' })
      }
      if (!scanner.push(chunk)) break
    }
    if (scanner.problem === undefined) scanner.end()
  } catch (error) {
    throw streamFailure(error, name)
  }
  const problem = scanner.problem
  if (problem?.kind === 'fields') {
    throw new FreshetError('INPUT_MALFORMED', `${name} line ${problem.line}: expected ${problem.expected} fields like the header, got ${problem.got}`, {
      file: name,
      line: problem.line,
      hint: 'fix the row (a missing or extra delimiter, or an unclosed quote) and re-ingest the file',
    })
  }
  if (problem?.kind === 'unclosed-quote') {
    throw new FreshetError('INPUT_MALFORMED', `${name} line ${problem.line}: a quoted field starts here and is never closed`, {
      file: name,
      line: problem.line,
      hint: 'close the quote (a quote inside a quoted field is written "") and re-ingest the file',
    })
  }
  return { records: scanner.records, delimiter: delim, columns }
}

/**
 * Reads a JSON Lines file once, checking that every non-empty line is a JSON object.
 * @throws FreshetError `INPUT_MALFORMED` naming the line and the parser's complaint.
 */
export async function scanJsonLines(file: string, compression: Compression, name: string): Promise<TextStructure> {
  let lineNumber = 0
  let records = 0
  // Lines are cut from the raw bytes (a newline byte never occurs inside a UTF-8 sequence) and decoded one by one:
  // readline's per-chunk string decoding and splitting took half the time of the scan.
  const decoder = new TextDecoder('utf-8', { fatal: true })
  const check = (bytes: Uint8Array): void => {
    lineNumber++
    let text: string
    try {
      text = decoder.decode(bytes)
    } catch {
      throw new FreshetError('INPUT_BINARY', `${name} line ${lineNumber} is not valid UTF-8 text`, { file: name, line: lineNumber, hint: 'save the file as UTF-8 and re-ingest it' })
    }
    if (text.trim() === '') return
    let value: unknown
    try {
      value = JSON.parse(text)
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
  const input = openText(file, compression)
  try {
    let pending: Buffer | undefined
    for await (const chunk of input as AsyncIterable<Buffer>) {
      let from = 0
      let newline = chunk.indexOf(10)
      if (pending !== undefined && newline >= 0) {
        check(Buffer.concat([pending, chunk.subarray(0, newline)]))
        pending = undefined
        from = newline + 1
        newline = chunk.indexOf(10, from)
      }
      for (; newline >= 0; newline = chunk.indexOf(10, from)) {
        check(chunk.subarray(from, newline))
        from = newline + 1
      }
      if (from < chunk.length) pending = pending === undefined ? chunk.subarray(from) : Buffer.concat([pending, chunk.subarray(from)])
    }
    if (pending !== undefined) check(pending)
  } catch (error) {
    throw streamFailure(error, name)
  } finally {
    input.destroy()
  }
  if (records === 0) {
    throw new FreshetError('INPUT_EMPTY', `${name} has no records (only blank lines)`, { file: name })
  }
  return { records }
}
