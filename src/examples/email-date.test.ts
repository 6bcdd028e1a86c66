import { describe, expect, it } from 'vitest'
import { parseEmailDate } from './email-date.js'

function iso(header: string): string | undefined {
  const time = parseEmailDate(header)
  return time === undefined ? undefined : new Date(time).toISOString()
}

describe('parseEmailDate', () => {
  it.each([
    ['Thu, 22 Aug 2002 18:26:25 +0700', '2002-08-22T11:26:25.000Z'],
    ['Thu, 22 Aug 2002 15:25:24 -0400 (EDT)', '2002-08-22T19:25:24.000Z'],
    ['22 Aug 2002 15:25:24 -0400', '2002-08-22T19:25:24.000Z'],
    ['Thu,  5 Sep 2002 13:49:38 +0400 (MSD)', '2002-09-05T09:49:38.000Z'],
    ['Fri, 6 Sep 2002 08:44:38 EDT', '2002-09-06T12:44:38.000Z'],
    ['Tue, 17 Sep 2002 09:15:32 PST', '2002-09-17T17:15:32.000Z'],
    ['Sun, 25 Aug 2002 16:50:54 UT', '2002-08-25T16:50:54.000Z'],
    ['Fri, 23 Aug 2002 22:46:34 GMT+1', '2002-08-23T21:46:34.000Z'],
    ['Fri, 23 Aug 2002 19:27:52', '2002-08-23T19:27:52.000Z'],
    ['Thu, 29 Aug 2002 15:36:58 +-0500', '2002-08-29T20:36:58.000Z'],
    ['Sat, 8 Jun 2002 1:5:13 +-0500', '2002-06-08T06:05:13.000Z'],
    ['Fri, 30 Aug 02 21:48:08 Eastern Daylight Time', '2002-08-31T01:48:08.000Z'],
    ['Mon, 22 Jul 2002 12:37:15 US Mountain Standard Time', '2002-07-22T19:37:15.000Z'],
    ['Thu, 22 Aug 0102 12:07:35 +0800', '2002-08-22T04:07:35.000Z'],
    ['Fri, 29 Jun 01 01:03:58 EST', '2001-06-29T06:03:58.000Z'],
    ['28 Jun 01 10:05:15 PM', '2001-06-28T22:05:15.000Z'],
    ['27 Jun 01 12:36:25 AM', '2001-06-27T00:36:25.000Z'],
    ['Sat Sep 21 08:18:08 2002', '2002-09-21T08:18:08.000Z'],
    ['2002/09/14 Sat 02:29:32 CDT', '2002-09-14T07:29:32.000Z'],
    ['Tue, 06 Aug 2002 06:50:21 PM -0400', '2002-08-06T22:50:21.000Z'],
    ['Fri, 30 Aug 2002 09:03:43 -0500 (added by', '2002-08-30T14:03:43.000Z'],
    [
      'Thu, 18 Jul 2002 14:57:14 +-0800 MSG_ID_ADDED_BY_MTA_3,MISSING_MIMEOLE version=2.40',
      '2002-07-18T22:57:14.000Z',
    ],
    ['Wed, 04 Oct 2028 12:05:01 -0400', '2028-10-04T16:05:01.000Z'],
  ])('reads %s', (header, expected) => {
    expect(iso(header)).toBe(expected)
  })

  it.each([
    '',
    'yesterday',
    'Thu, 31 Feb 2002 10:00:00 +0000',
    'Thu, 22 Aug 2002 25:00:00 +0000',
    '22 Aug 2002',
  ])('refuses %j', (header) => {
    expect(parseEmailDate(header)).toBeUndefined()
  })
})
