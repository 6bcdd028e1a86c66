/**
 * Lenient parsing of e-mail `Date:` headers (RFC 2822 and the obsolete and broken forms real mail uses).
 */

const months = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']

/** Offsets in minutes east of UTC. RFC 2822 names plus a few common ones. */
const zoneAbbreviations: Record<string, number> = {
  z: 0,
  ut: 0,
  utc: 0,
  gmt: 0,
  wet: 0,
  est: -300,
  edt: -240,
  cst: -360,
  cdt: -300,
  mst: -420,
  mdt: -360,
  pst: -480,
  pdt: -420,
  akst: -540,
  akdt: -480,
  hst: -600,
  bst: 60,
  cet: 60,
  met: 60,
  cest: 120,
  mest: 120,
  eet: 120,
  eest: 180,
  msk: 180,
  msd: 240,
  jst: 540,
  kst: 540,
}

/** Windows writes its zone display names into some headers ("Eastern Daylight Time"). Longest first. */
const zoneLongNames: [string, number][] = [
  ['us mountain standard time', -420],
  ['eastern daylight time', -240],
  ['eastern standard time', -300],
  ['central daylight time', -300],
  ['central standard time', -360],
  ['mountain daylight time', -360],
  ['mountain standard time', -420],
  ['pacific daylight time', -420],
  ['pacific standard time', -480],
  ['greenwich standard time', 0],
  ['arabian standard time', 240],
  ['gmt daylight time', 60],
  ['gmt standard time', 0],
]

interface Pieces {
  ymd?: [number, number, number]
  month?: number
  numbers: string[]
  time?: [number, number, number]
  meridiem?: 'am' | 'pm'
  zone?: number
}

/**
 * Parses a `Date:` header value to epoch milliseconds, or `undefined` when it is not a date.
 *
 * Accepts the weekday or not, 1- to 4-digit years (2-digit years per RFC 2822: 00-49 are 20xx; 3-digit years and
 * the `0102` Y2K bug add 1900), times without seconds or with AM/PM, numeric zones (also Outlook's `+-0500`),
 * named zones (`EST`, `GMT+1`, `Eastern Daylight Time`), trailing comments, asctime order and `2002/09/14`.
 * A missing or unknown zone means UTC (RFC 2822 treats unknown zones as `-0000`).
 */
export function parseEmailDate(value: string): number | undefined {
  let text = value.toLowerCase()
  let previous: string
  do {
    previous = text
    text = text.replace(/\([^()]*\)/g, ' ')
  } while (text !== previous)
  text = text.replace(/\(.*$/, ' ')

  const pieces: Pieces = { numbers: [] }
  for (const [name, offset] of zoneLongNames) {
    if (text.includes(name)) {
      pieces.zone = offset
      text = text.replace(name, ' ')
      break
    }
  }
  for (const token of text.split(/[\s,]+/)) if (token !== '') readToken(token, pieces)
  return assemble(pieces)
}

function readToken(token: string, pieces: Pieces): void {
  let m: RegExpExecArray | null
  if ((m = /^(\d{4})[/-](\d{1,2})[/-](\d{1,2})$/.exec(token)) !== null) {
    pieces.ymd ??= [Number(m[1]), Number(m[2]) - 1, Number(m[3])]
  } else if ((m = /^(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?$/.exec(token)) !== null) {
    pieces.time ??= [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)]
  } else if (token === 'am' || token === 'pm') {
    pieces.meridiem = token
  } else if ((m = /^(\+-|[+-])(\d{2})(\d{2})$/.exec(token)) !== null) {
    pieces.zone ??= offsetMinutes(m[1] === '+' ? 1 : -1, m[2], m[3])
  } else if ((m = /^(?:gmt|utc|ut)([+-])(\d{1,2})(?::?(\d{2}))?$/.exec(token)) !== null) {
    pieces.zone ??= offsetMinutes(m[1] === '+' ? 1 : -1, m[2], m[3])
  } else if (/^\d+$/.test(token)) {
    pieces.numbers.push(token)
  } else if (/^[a-z]+\.?$/.test(token)) {
    const word = token.replace('.', '')
    const month = months.indexOf(word.slice(0, 3))
    if (month >= 0 && word.length >= 3 && pieces.month === undefined) pieces.month = month
    else if (zoneAbbreviations[word] !== undefined) pieces.zone ??= zoneAbbreviations[word]
  }
}

/** NaN for minutes >= 60, which makes the whole date invalid. */
function offsetMinutes(sign: number, hours: string | undefined, minutes: string | undefined): number {
  const h = Number(hours ?? 0)
  const m = Number(minutes ?? 0)
  return m < 60 ? sign * (h * 60 + m) : Number.NaN
}

function assemble(p: Pieces): number | undefined {
  let year: number, month: number, day: number
  if (p.ymd !== undefined) {
    ;[year, month, day] = p.ymd
  } else {
    const [dayToken, yearToken] = p.numbers
    if (p.month === undefined || dayToken === undefined || yearToken === undefined || dayToken.length > 2) {
      return undefined
    }
    month = p.month
    day = Number(dayToken)
    year = normalizeYear(yearToken)
  }
  if (p.time === undefined) return undefined
  const [clockHour, minute, second] = p.time
  let hour = clockHour
  if (p.meridiem === 'pm' && hour < 12) hour += 12
  else if (p.meridiem === 'am' && hour === 12) hour = 0
  const zone = p.zone ?? 0
  const daysInMonth = new Date(Date.UTC(year, month + 1, 0)).getUTCDate()
  const valid =
    month >= 0 && month < 12 && day >= 1 && day <= daysInMonth && hour < 24 && minute < 60 && second <= 60
  if (!valid || Number.isNaN(zone)) return undefined
  const local = new Date(0)
  local.setUTCFullYear(year, month, day)
  local.setUTCHours(hour, minute, second, 0)
  return local.getTime() - zone * 60_000
}

function normalizeYear(token: string): number {
  const value = Number(token)
  if (token.length <= 2) return value < 50 ? 2000 + value : 1900 + value
  // RFC 2822 §4.3: a three-digit year is 1900 + it; "0102" is the same struct-tm bug with a leading zero.
  if (value < 1000) return 1900 + value
  return value
}
