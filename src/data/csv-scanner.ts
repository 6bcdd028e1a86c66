/**
 * A byte-level CSV record scanner: counts records and fields per record without building strings, so the
 * structural check of a large CSV costs about as much as reading it (csv-parse took ~30x longer, see bench/).
 * Quoting follows RFC 4180 (`""` escapes a quote, line breaks inside quotes belong to the field); a quote inside an
 * unquoted field is kept as text, as DuckDB reads it. Blank lines are skipped.
 */
export type CsvScanProblem =
  | { kind: 'fields'; line: number; expected: number; got: number }
  | { kind: 'unclosed-quote'; line: number }

const LF = 10
const CR = 13
const QUOTE = 34

export class CsvScanner {
  records = 0
  headerFields = 0
  problem: CsvScanProblem | undefined
  private readonly delimiter: number
  private line = 1
  private recordLine = 1
  private fields = 1
  private inQuotes = false
  private quotePending = false
  private atFieldStart = true
  private recordEmpty = true
  private first = true

  constructor(delimiter: string) {
    this.delimiter = delimiter.charCodeAt(0)
  }

  /** Feeds the next chunk; stops early (returns false) once a problem is found. */
  push(chunk: Uint8Array): boolean {
    let start = 0
    if (this.first) {
      this.first = false
      if (chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) start = 3
    }
    const delimiter = this.delimiter
    for (let i = start; i < chunk.length; i++) {
      const byte = chunk[i] as number
      if (this.quotePending) {
        this.quotePending = false
        if (byte === QUOTE) continue // an escaped quote inside a quoted field
        this.inQuotes = false
      }
      if (this.inQuotes) {
        if (byte === QUOTE) this.quotePending = true
        else if (byte === LF) this.line++
        continue
      }
      if (byte === delimiter) {
        this.fields++
        this.atFieldStart = true
        this.recordEmpty = false
      } else if (byte === LF) {
        if (!this.endRecord()) return false
        this.line++
        this.recordLine = this.line
      } else if (byte === CR) {
        // CRLF line ends: the LF ends the record.
      } else {
        if (byte === QUOTE && this.atFieldStart) this.inQuotes = true
        this.atFieldStart = false
        this.recordEmpty = false
      }
    }
    return true
  }

  /** Ends the input; returns false when the last record is bad or a quote was never closed. */
  end(): boolean {
    if (this.quotePending) {
      this.quotePending = false
      this.inQuotes = false
    }
    if (this.inQuotes) {
      this.problem = { kind: 'unclosed-quote', line: this.recordLine }
      return false
    }
    return this.endRecord()
  }

  private endRecord(): boolean {
    if (this.recordEmpty && this.fields === 1) return true
    if (this.headerFields === 0) this.headerFields = this.fields
    else if (this.fields !== this.headerFields) {
      this.problem = { kind: 'fields', line: this.recordLine, expected: this.headerFields, got: this.fields }
      return false
    } else this.records++
    this.fields = 1
    this.atFieldStart = true
    this.recordEmpty = true
    return true
  }
}
