/**
 * Just enough MIME (RFC 2045-2047) to turn a raw 2002-era e-mail into a subject and a plain-text body.
 * Lenient by design: malformed input degrades to raw text, never to an exception.
 */

import { decodeBytes, decoderFor } from './charset.js'

const headerLine = /^[!-9;-~]+:/
const headerName = /^[!-9;-~]+$/

export interface MimeEntity {
  /** Lower-cased header name to its first value, unfolded. */
  readonly headers: ReadonlyMap<string, string>
  readonly body: string
}

/** Parses a whole message; an mbox `From ` line in front is skipped. */
export function parseMessage(raw: string): MimeEntity {
  const text = raw.includes('\r') ? raw.replace(/\r\n?/g, '\n') : raw
  return parseEntity(text.startsWith('From ') ? text.slice(text.indexOf('\n') + 1) : text)
}

/** Splits a body part (with `\n` line ends) into headers and body. Text without a header line is all body. */
function parseEntity(text: string): MimeEntity {
  let head = ''
  let body = text.startsWith('\n') ? text.slice(1) : text
  if (headerLine.test(text)) {
    const end = text.indexOf('\n\n')
    head = end < 0 ? text : text.slice(0, end)
    body = end < 0 ? '' : text.slice(end + 2)
  }
  const headers = new Map<string, string>()
  let name: string | undefined
  let value = ''
  const flush = (): void => {
    if (name !== undefined && !headers.has(name)) headers.set(name, value.trim())
  }
  for (const line of head.split('\n')) {
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (name !== undefined) value += line
      continue
    }
    flush()
    const colon = line.indexOf(':')
    const candidate = colon > 0 ? line.slice(0, colon) : ''
    name = headerName.test(candidate) ? candidate.toLowerCase() : undefined
    value = name === undefined ? '' : line.slice(colon + 1)
  }
  flush()
  return { headers, body }
}

interface ContentType {
  type: string
  params: Map<string, string>
}

function parseContentType(value: string | undefined): ContentType {
  const params = new Map<string, string>()
  const type = (value ?? '').split(/[;\s]/, 1)[0]?.toLowerCase() ?? ''
  for (const m of (value ?? '').matchAll(
    /[;\s]\s*([\w!#$%&'*+.^`|~-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)/g,
  )) {
    const key = m[1]?.toLowerCase() ?? ''
    const raw = m[2] ?? ''
    const unquoted = raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw
    if (!params.has(key)) params.set(key, unquoted)
  }
  return { type: type.includes('/') ? type : 'text/plain', params }
}

/** Quoted-printable: `=XX` runs are decoded in the charset, literal text is kept as is. */
function decodeQuotedPrintable(text: string, charset: string | undefined): string {
  return text
    .replace(/=[ \t]*\n/g, '')
    .replace(/(?:=[0-9A-Fa-f]{2})+/g, (run) =>
      decodeBytes(Buffer.from(run.replace(/=/g, ''), 'hex'), charset),
    )
}

function decodeTransfer(body: string, encoding: string | undefined, charset: string | undefined): string {
  switch ((encoding ?? '').trim().toLowerCase()) {
    case 'base64':
      return decodeBytes(Buffer.from(body.replace(/[^A-Za-z0-9+/]/g, ''), 'base64'), charset)
    case 'quoted-printable':
      return decodeQuotedPrintable(body, charset)
    default:
      return body
  }
}

/**
 * Decodes RFC 2047 encoded-words (`=?charset?B|Q?...?=`) in a header value. A word whose charset the runtime does
 * not know is kept raw.
 */
export function decodeEncodedWords(value: string): string {
  return value
    .replace(/(\?=)\s+(?==\?)/g, '$1')
    .replace(
      /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g,
      (word, charset: string, kind: string, payload: string) => {
        const decoder = decoderFor(charset)
        if (decoder === null) return word
        if (kind.toUpperCase() === 'B') return decoder(Buffer.from(payload, 'base64'))
        const bytes: number[] = []
        for (let i = 0; i < payload.length; i++) {
          const ch = payload[i] ?? ''
          const hex = payload.slice(i + 1, i + 3)
          if (ch === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
            bytes.push(parseInt(hex, 16))
            i += 2
          } else if (ch === '_') {
            bytes.push(0x20)
          } else {
            bytes.push(...Buffer.from(ch, 'utf8'))
          }
        }
        return decoder(Uint8Array.from(bytes))
      },
    )
}

const entities: Record<string, string> = {
  nbsp: ' ',
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  copy: '©',
  reg: '®',
  trade: '™',
  hellip: '…',
  mdash: '—',
  ndash: '–',
}

/** HTML to text: scripts, styles and comments removed, tags become spaces, common entities decoded. */
export function htmlToText(html: string): string {
  return html
    .replace(/<(script|style)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|[a-z]+);/gi, (entity, name: string) => {
      if (name.startsWith('#')) {
        const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : Number(name.slice(1))
        return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : ' '
      }
      return entities[name.toLowerCase()] ?? entity
    })
}

interface TextParts {
  plain: string[]
  html: string[]
}

const maxDepth = 8

function collectText(entity: MimeEntity, parts: TextParts, depth: number): void {
  const header = entity.headers.get('content-type')
  const { type, params } =
    (header === undefined ? inferMultipart(entity.body) : undefined) ?? parseContentType(header)
  if (/^\s*attachment/i.test(entity.headers.get('content-disposition') ?? '')) return
  const boundary = params.get('boundary')
  if (type.startsWith('multipart/') && boundary !== undefined && boundary !== '' && depth < maxDepth) {
    const children = splitMultipart(entity.body, boundary)
    if (children.length === 0) parts.plain.push(entity.body)
    for (const child of children) collectText(parseEntity(child), parts, depth + 1)
    return
  }
  const encoding = entity.headers.get('content-transfer-encoding')
  const charset = params.get('charset')
  if (type === 'message/rfc822' && depth < maxDepth) {
    collectText(parseMessage(decodeTransfer(entity.body, encoding, charset)), parts, depth + 1)
  } else if (type === 'text/html') {
    parts.html.push(decodeTransfer(entity.body, encoding, charset))
  } else if (type === 'text/plain' || type.startsWith('multipart/')) {
    parts.plain.push(decodeTransfer(entity.body, encoding, charset))
  }
}

/**
 * Some messages lost their Content-Type header but still carry MIME parts: a delimiter line followed by a part's
 * Content-Type near the top (after at most a one-line preamble) makes them multipart.
 */
function inferMultipart(body: string): ContentType | undefined {
  const delimiter = /^--([^\n]*\S)[ \t]*\nContent-Type:/im.exec(body.slice(0, 300))
  if (delimiter?.[1] === undefined) return undefined
  return { type: 'multipart/mixed', params: new Map([['boundary', delimiter[1]]]) }
}

function splitMultipart(body: string, boundary: string): string[] {
  const delimiter = `--${boundary}`
  const parts: string[] = []
  let current: string[] | undefined
  for (const line of body.split('\n')) {
    const rest = line.startsWith(delimiter) ? line.slice(delimiter.length).trimEnd() : undefined
    if (rest === '' || rest === '--') {
      if (current !== undefined) parts.push(current.join('\n'))
      if (rest === '--') return parts
      current = []
    } else {
      current?.push(line)
    }
  }
  if (current !== undefined) parts.push(current.join('\n'))
  return parts
}

/**
 * The readable text of a message: its text/plain parts, or else its text/html parts without tags; transfer
 * encodings and charsets decoded, attachments skipped, whitespace and control characters collapsed to single
 * spaces, at most `maxChars` characters.
 */
export function messageText(entity: MimeEntity, maxChars: number): string {
  const parts: TextParts = { plain: [], html: [] }
  collectText(entity, parts, 0)
  const plain = collapse(parts.plain.join(' '))
  return clip(plain !== '' ? plain : collapse(parts.html.map(htmlToText).join(' ')), maxChars)
}

/** Control characters and runs of whitespace become one space. */
export function collapse(text: string): string {
  return text.replace(/[\p{Cc}\s]+/gu, ' ').trim()
}

function clip(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text
  const cut = text.slice(0, maxChars)
  // Never end on half a surrogate pair.
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut
}
