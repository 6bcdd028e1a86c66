import { describe, expect, it } from 'vitest'
import { CsvScanner } from './csv-scanner.js'

function scan(text: string, delimiter = ',', chunkSize = Infinity): CsvScanner {
  const bytes = new TextEncoder().encode(text)
  const scanner = new CsvScanner(delimiter)
  const step = Number.isFinite(chunkSize) ? chunkSize : bytes.length
  for (let i = 0; i < bytes.length; i += step) if (!scanner.push(bytes.subarray(i, i + step))) return scanner
  scanner.end()
  return scanner
}

describe('CsvScanner', () => {
  const tricky = '\ufeffid,text,n\r\n1,"a, ""quoted""\nmultiline value",3\r\n\r\n2,plain,4\n3,"",5'

  it('counts records across quoted delimiters, escaped quotes, line breaks in quotes, CRLF, a BOM and blank lines', () => {
    for (const chunk of [Infinity, 1, 2, 3, 7]) {
      const scanner = scan(tricky, ',', chunk)
      expect(scanner.problem, `chunk ${chunk}`).toBeUndefined()
      expect(scanner.records, `chunk ${chunk}`).toBe(3)
      expect(scanner.headerFields).toBe(3)
    }
  })

  it('names the physical line of a record with the wrong number of fields', () => {
    expect(scan('a,b\n"x\ny",1\n2\n').problem).toEqual({ kind: 'fields', line: 4, expected: 2, got: 1 })
    expect(scan('a;b\n1;2;3\n', ';').problem).toEqual({ kind: 'fields', line: 2, expected: 2, got: 3 })
    expect(scan('a,b\n1,2\n3').problem).toEqual({ kind: 'fields', line: 3, expected: 2, got: 1 })
  })

  it('reports a quote that is never closed, and keeps a quote inside an unquoted field as text', () => {
    expect(scan('a,b\n1,"open\n2,3\n').problem).toEqual({ kind: 'unclosed-quote', line: 2 })
    const relaxed = scan('a"; DROP TABLE x; --,b\n1,2\n')
    expect(relaxed.problem).toBeUndefined()
    expect(relaxed.records).toBe(1)
  })
})
