import { describe, expect, it } from 'vitest'
import { decodeEncodedWords, messageText, parseMessage } from './mime.js'

const text = (raw: string): string => messageText(parseMessage(raw), 20_000)

describe('decodeEncodedWords', () => {
  it('decodes B and Q words in common charsets and joins adjacent words', () => {
    expect(decodeEncodedWords('=?iso-8859-1?Q?Sitting_Bull_=FCber_alles?=')).toBe('Sitting Bull über alles')
    expect(decodeEncodedWords('=?utf-8?B?w7xiZXI=?= =?UTF-8?Q?_alles?= x')).toBe('über alles x')
    expect(decodeEncodedWords('=?windows-1252?Q?Parhelia=99?=')).toBe('Parhelia™')
    expect(decodeEncodedWords('=?gb2312?B?xPq6ww==?=')).toBe('您好')
  })

  it('keeps words in an unknown charset as they are', () => {
    expect(decodeEncodedWords('=?x-unknown?Q?abc?= rest')).toBe('=?x-unknown?Q?abc?= rest')
  })
})

describe('messageText', () => {
  it('skips the mbox line and headers, including folded ones', () => {
    const raw =
      'From a@b  Thu Aug 22 12:36:23 2002\nReceived: from x\n\tby y\nSubject: hi\n\nHello\n  there\n'
    expect(text(raw)).toBe('Hello there')
  })

  it('prefers text/plain parts, decodes quoted-printable and base64, skips attachments', () => {
    const raw = [
      'Content-Type: multipart/mixed; boundary="outer"',
      '',
      'preamble',
      '--outer',
      'Content-Type: multipart/alternative; boundary=inner',
      '',
      '--inner',
      'Content-Type: text/plain; charset=iso-8859-1',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'Gr=FC=DFe, caf=',
      '=E9',
      '--inner',
      'Content-Type: text/html',
      '',
      '<p>HTML version</p>',
      '--inner--',
      '--outer',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('zweiter Teil ✓').toString('base64'),
      '--outer',
      'Content-Type: text/plain',
      'Content-Disposition: attachment; filename="notes.txt"',
      '',
      'attached file',
      '--outer--',
    ].join('\r\n')
    expect(text(raw)).toBe('Grüße, café zweiter Teil ✓')
  })

  it('falls back to text/html without tags, scripts, styles or comments', () => {
    const raw =
      'Content-Type: text/html\n\n<html><style>p{}</style><script>x()</script><!-- c --><p>Buy&nbsp;now &amp; save</p></html>'
    expect(text(raw)).toBe('Buy now & save')
  })

  it('finds parts of a message that lost its Content-Type header', () => {
    const raw =
      'Subject: x\n\n\n--b1\nContent-Type: text/plain\n\nbody text\n--b1\nContent-Type: text/html\n\n<b>no</b>\n--b1--\n'
    expect(text(raw)).toBe('body text')
  })

  it('caps the text without splitting a surrogate pair', () => {
    expect(text('Subject: x\n\n' + 'a'.repeat(9) + '😀😀')).toBe('a'.repeat(9) + '😀😀')
    expect(messageText(parseMessage('Subject: x\n\n' + 'a'.repeat(9) + '😀'), 10)).toBe('a'.repeat(9))
  })
})
