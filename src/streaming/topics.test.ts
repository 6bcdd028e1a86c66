import { describe, expect, it } from 'vitest'
import { configFromObject } from '../config/load.js'
import type { TopicSpec } from '../config/schema.js'
import { isFreshetError } from '../core/errors.js'
import { checkEvent, parseNdjson, topicLimits, topicSpecOf } from './topics.js'

const clicks: TopicSpec = {
  schema: { user: 'string', at: 'timestamp', price: 'number', mobile: 'boolean' },
  key: 'user',
  eventTime: 'at',
  maxEventBytes: 200,
}
const good = { user: 'u1', at: '2030-01-31T12:00:00Z', price: 1.5, mobile: false }

describe('topic events', () => {
  it('accepts an event with exactly the schema fields and types', () => {
    expect(checkEvent(clicks, good)).toEqual([])
    expect(checkEvent(clicks, { ...good, at: '2030-01-31' })).toEqual([])
    expect(checkEvent(clicks, { ...good, at: '2030-01-31T12:00:00.123+02:00' })).toEqual([])
  })

  it('names every field that is missing, mistyped or unknown, with what was expected and what came', () => {
    const problems = checkEvent(clicks, { user: 7, at: 'yesterday', mobile: 'yes', userr: 'u1' })
    expect(problems).toEqual([
      { field: 'user', expected: 'string', got: 'number 7' },
      {
        field: 'at',
        expected: 'timestamp (an ISO 8601 string like 2030-01-31T12:00:00Z)',
        got: 'string "yesterday"',
      },
      { field: 'price', expected: 'number', got: 'nothing' },
      { field: 'mobile', expected: 'boolean', got: 'string "yes"' },
      { field: 'userr', expected: 'no such field (did you mean "user"?)', got: 'string "u1"' },
    ])
    expect(checkEvent(clicks, { ...good, price: null })).toEqual([
      { field: 'price', expected: 'number', got: 'null' },
    ])
    expect(checkEvent(clicks, { ...good, at: '2030-13-45T99:00:00Z' })[0]?.field).toBe('at')
  })

  it('rejects what is not an object, and events larger than maxEventBytes', () => {
    expect(checkEvent(clicks, [good])).toEqual([
      { field: '(event)', expected: 'a JSON object', got: expect.stringContaining('an array') as string },
    ])
    expect(checkEvent(clicks, 'text')).toEqual([
      { field: '(event)', expected: 'a JSON object', got: 'string "text"' },
    ])
    expect(checkEvent(clicks, { ...good, user: 'u'.repeat(300) })).toEqual([
      {
        field: '(event)',
        expected: 'at most 200 bytes of JSON',
        got: expect.stringMatching(/^3\d\d bytes$/) as string,
      },
    ])
  })

  it('parses NDJSON line by line, keeping a line that is not JSON with its number', () => {
    expect(parseNdjson('{"a":1}\r\n\n{"a":\n  \n[1]\n', 10)).toEqual([
      { value: { a: 1 }, line: 10 },
      { raw: '{"a":', line: 12, error: expect.any(String) as string },
      { value: [1], line: 14 },
    ])
  })
})

describe('topics in the configuration', () => {
  const config = (topics: unknown) => configFromObject({ topics }, '/tmp/freshet-topics-test')
  const problem = (topics: unknown): string => {
    try {
      config(topics)
      return 'no error'
    } catch (error) {
      return isFreshetError(error, 'CONFIG_INVALID') ? error.message : String(error)
    }
  }

  it('checks the schema, key and event time, with did-you-mean for unknown keys', () => {
    expect(problem({ clicks: { schema: { user: 'string' }, kee: 'user' } })).toContain(
      'unknown key "kee", did you mean "key"?',
    )
    expect(problem({ clicks: { schema: { user: 'text' } } })).toContain(
      'topics.clicks.schema.user: expected one of string, number, boolean, timestamp',
    )
    expect(problem({ clicks: { schema: { user: 'string' }, key: 'id' } })).toContain(
      'topics.clicks.key: expected a field of the schema (user)',
    )
    expect(problem({ clicks: { schema: { user: 'string' }, eventTime: 'user' } })).toContain(
      "topics.clicks.eventTime: expected a field of type 'timestamp'",
    )
    expect(problem({ Clicks: { schema: { user: 'string' } } })).toContain('topics.Clicks')
    expect(problem({ clicks: { schema: { user: 'string' }, maxBacklog: 0 } })).toContain(
      'topics.clicks.maxBacklog',
    )
    expect(problem({ clicks: { schema: { user: 'string' }, retention: 'forever' } })).toContain(
      'topics.clicks.retention',
    )
  })

  it('finds a declared topic, suggests the closest for a typo, and gives dead-letter topics the same bound', () => {
    const loaded = config({ clicks: { schema: { user: 'string' }, maxBacklog: 50 } })
    expect(topicSpecOf(loaded, 'clicks').schema).toEqual({ user: 'string' })
    expect(() => topicSpecOf(loaded, 'clickz')).toThrow(
      'topic "clickz" is not declared; did you mean "clicks"?',
    )
    expect(topicLimits(loaded)('clicks.dead-letter')).toEqual({ maxBacklog: 50 })
    expect(topicLimits(loaded)('views')).toBeUndefined()
  })
})
