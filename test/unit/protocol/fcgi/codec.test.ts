import { describe, expect, it } from 'vitest';
import { ProtocolError, decodeParams, encodeEndRequest, encodeParams, encodeRecord } from '../../../../src/protocol/fcgi/codec.js';
import { FCGI_STDOUT } from '../../../../src/protocol/fcgi/constants.js';

const hex = (b: Buffer): string => b.toString('hex');

describe('record codec', () => {
  it.each([
    ['an empty STDOUT record', encodeRecord(FCGI_STDOUT, 1), '0106000100000000'],
    ['a record with content', encodeRecord(FCGI_STDOUT, 258, Buffer.from('hi')), '010601020002000068 69'.replace(' ', '')],
    ['a padded record', encodeRecord(FCGI_STDOUT, 1, Buffer.from('abc'), true), '01060001000305006162630000000000'],
    ['END_REQUEST with app status 7', encodeEndRequest(1, 7, 0), '01030001000800000000000700000000'],
    ['END_REQUEST with a negative app status (as unsigned)', encodeEndRequest(1, -1, 3), '0103000100080000ffffffff03000000'],
  ])('encodes %s', (_what, bytes, expected) => {
    expect(hex(bytes)).toBe(expected);
  });

  it('refuses content longer than 65535 bytes', () => {
    expect(() => encodeRecord(FCGI_STDOUT, 1, Buffer.alloc(65536))).toThrow(RangeError);
  });
});

describe('name-value pairs', () => {
  it('uses 1-byte lengths up to 127 and 4-byte lengths from 128', () => {
    const short = encodeParams([['A', 'x'.repeat(127)]]);
    expect(short.subarray(0, 2)).toEqual(Buffer.from([1, 127]));
    const long = encodeParams([['A', 'x'.repeat(128)]]);
    expect(hex(long.subarray(0, 5))).toBe('0180000080');
  });

  it('round-trips names and values of every length class, bytes intact', () => {
    const pairs: [string, string][] = [
      ['REQUEST_METHOD', 'GET'],
      ['EMPTY', ''],
      ['N'.repeat(200), 'v'.repeat(70000)],
      ['UTF8', Buffer.from('/caf\u00e9?q=\u2603').toString('latin1')],
    ];
    expect(decodeParams(encodeParams(pairs))).toEqual(Object.fromEntries(pairs));
  });

  it('gives the right strings when many different values pass through the intern table', () => {
    for (let i = 0; i < 20000; i++) {
      const pairs: [string, string][] = [['REMOTE_PORT', String(i)], ['REQUEST_URI', `/p/${i % 97}?q=${i}`], ['HTTP_X', 'x'.repeat(i % 60)]];
      expect(decodeParams(encodeParams(pairs))).toEqual(Object.fromEntries(pairs));
    }
  });

  it('treats a param named __proto__ as a param', () => {
    const params = decodeParams(encodeParams([['__proto__', 'x'], ['constructor', 'c'], ['A', 'b']]));
    expect(params['__proto__']).toBe('x');
    expect(Object.keys(params)).toEqual(['__proto__', 'constructor', 'A']);
    // Nothing inherited: a name the web server did not send is not there.
    const plain = decodeParams(encodeParams([['A', 'b']]));
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) expect(plain[name]).toBe(undefined);
  });

  it.each([
    ['a value length missing', Buffer.from([3])],
    ['a truncated 4-byte name length', Buffer.from([0x80, 0, 0])],
    ['a truncated 4-byte value length', Buffer.from([1, 0x80, 0])],
    ['lengths that overrun the data', Buffer.from([5, 5, 65, 66])],
  ])('rejects %s', (_what, bytes) => {
    expect(() => decodeParams(bytes)).toThrow(ProtocolError);
  });
});
