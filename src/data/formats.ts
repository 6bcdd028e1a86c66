import { open } from 'node:fs/promises'
import path from 'node:path'
import { gunzipSync } from 'node:zlib'
import { FreshetError } from '../core/errors.js'

export type FileFormat = 'csv' | 'jsonl' | 'parquet'
export type Compression = 'none' | 'gzip'

export interface DetectedFormat {
  readonly format: FileFormat
  readonly compression: Compression
}

const byExtension: Record<string, FileFormat> = {
  '.csv': 'csv',
  '.tsv': 'csv',
  '.txt': 'csv',
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.json': 'jsonl',
  '.parquet': 'parquet',
  '.pq': 'parquet',
}

async function readHead(file: string, bytes: number): Promise<Buffer> {
  const handle = await open(file, 'r')
  try {
    const buffer = Buffer.alloc(bytes)
    const { bytesRead } = await handle.read(buffer, 0, bytes, 0)
    return buffer.subarray(0, bytesRead)
  } finally {
    await handle.close()
  }
}

/** Decompresses what it can of a gzip prefix (a truncated stream is expected here). */
function gunzipPrefix(head: Buffer): Buffer {
  try {
    return gunzipSync(head, { finishFlush: 2 /* Z_SYNC_FLUSH */ })
  } catch {
    return Buffer.alloc(0)
  }
}

function looksBinary(sample: Buffer): boolean {
  if (sample.includes(0)) return true
  let control = 0
  for (const byte of sample) if (byte < 8 || (byte > 13 && byte < 32 && byte !== 27)) control++
  return sample.length > 0 && control / sample.length > 0.01
}

/**
 * Finds a file's format from its first bytes and its name: Parquet by its magic, gzip by its magic, then the
 * extension (after `.gz`), then the content (`{` starts JSON Lines, anything else is CSV).
 * @throws FreshetError `INPUT_EMPTY` for an empty file, `INPUT_BINARY` for bytes that are no text format.
 */
export async function detectFormat(file: string, displayName = path.basename(file)): Promise<DetectedFormat> {
  const head = await readHead(file, 64 * 1024)
  if (head.length === 0) {
    throw new FreshetError('INPUT_EMPTY', `${displayName} is empty (0 bytes): there is nothing to ingest`, {
      file: displayName,
      hint: 'check that the file was written completely before ingesting it',
    })
  }
  if (head.subarray(0, 4).toString('latin1') === 'PAR1') return { format: 'parquet', compression: 'none' }
  const gzip = head[0] === 0x1f && head[1] === 0x8b
  const text = gzip ? gunzipPrefix(head) : head
  const base = gzip ? displayName.replace(/\.gz$/i, '') : displayName
  const extension = path.extname(base).toLowerCase()
  const named = byExtension[extension]
  if (named === 'parquet' && !gzip) {
    throw new FreshetError('INPUT_MALFORMED', `${displayName} is named like a Parquet file but does not start with the Parquet magic bytes "PAR1"`, {
      file: displayName,
      hint: 'the file is not Parquet, or it is damaged: export it again',
    })
  }
  if (gzip && text.length === 0) {
    throw new FreshetError('INPUT_MALFORMED', `${displayName} starts like a gzip file but cannot be decompressed`, {
      file: displayName,
      hint: 'the compressed file is damaged or truncated: compress it again',
    })
  }
  if (looksBinary(text)) {
    throw new FreshetError('INPUT_BINARY', `${displayName} looks like a binary file, not CSV, JSON Lines or Parquet`, {
      file: displayName,
      hint: 'ingest CSV, JSON Lines or Parquet files, optionally gzip-compressed',
    })
  }
  const format = named ?? (text.toString('utf8').trimStart().startsWith('{') ? 'jsonl' : 'csv')
  return { format, compression: gzip ? 'gzip' : 'none' }
}
