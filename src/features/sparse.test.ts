import { describe, expect, it } from 'vitest'
import { CsrBuilder, maxRowLength, takeRows } from './sparse.js'

describe('CsrBuilder', () => {
  it('sorts each row by slot, sums duplicates in insertion order and stores no zeros', () => {
    const builder = new CsrBuilder(3, 16)
    builder.add(9, 1)
    builder.add(2, 0.5)
    builder.add(9, 2)
    builder.add(4, 0)
    builder.endRow()
    builder.add(7, 1)
    builder.add(7, -1)
    builder.endRow()
    for (let i = 0; i < 200; i++) builder.add(199 - (i % 100), 1)
    builder.endRow()
    const x = builder.finish()
    expect([...x.indptr]).toEqual([0, 2, 2, 102])
    expect([...x.indices.subarray(0, 2)]).toEqual([2, 9])
    expect([...x.values.subarray(0, 2)]).toEqual([0.5, 3])
    expect([...x.indices.subarray(2)]).toEqual(Array.from({ length: 100 }, (_, i) => 100 + i))
    expect(x.values.subarray(2).every((v) => v === 2)).toBe(true)
    expect(maxRowLength(x)).toBe(100)
  })

  it('refuses to finish with fewer rows than announced', () => {
    const builder = new CsrBuilder(2, 4)
    builder.endRow()
    expect(() => builder.finish()).toThrowError(/1 rows ended, 2 expected/)
  })
})

describe('takeRows', () => {
  it('selects rows in the given order, keeping the width', () => {
    const builder = new CsrBuilder(3, 8)
    for (const row of [[1], [2, 3], [4]]) {
      for (const slot of row) builder.add(slot, slot / 2)
      builder.endRow()
    }
    const x = takeRows(builder.finish(), [2, 0, 1, 2])
    expect(x.rows).toBe(4)
    expect(x.cols).toBe(8)
    expect([...x.indptr]).toEqual([0, 1, 2, 4, 5])
    expect([...x.indices]).toEqual([4, 1, 2, 3, 4])
    expect([...x.values]).toEqual([2, 0.5, 1, 1.5, 2])
    expect(() => takeRows(x, [4])).toThrowError(RangeError)
  })
})
